from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import ConfigDict, Strict

# PostgreSQL cannot store NUL in text, so text that reaches the database is refused at the edge
# (422 naming the field) instead of failing inside the query.
NO_NUL = r"^[^\x00]*$"
SLUG = r"^[-a-zA-Z0-9_]+$"
USERNAME = r"^[\w.@+-]+$"
MAX_ID = 2**63 - 1  # BigAutoField

# An id in a JSON body is a JSON integer: `true`, `1.0` and `"1"` are refused (pydantic's lax mode takes
# `true` for 1). Path and query parameters arrive as text: PathId parses them.
Id = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Field(ge=1, le=MAX_ID)]
StrictInt = Annotated[int, Strict()]
Channel = Literal["blog", "newsletter", "social", "product", "press"]
Risk = Literal["low", "medium", "high"]
Language = Literal["en", "de", "fr", "es", "it", "nl", "pt"]  # settings.AIOS_CONTENT_LANGUAGES
DraftStatus = Literal[
    "generating", "failed", "needs_human", "in_review", "changes_requested", "approved", "published", "rejected",
    "retracted", "outline_review",  # the outline checkpoint
]


class InputSchema(Schema):
    model_config = ConfigDict(extra="forbid")


class BriefIn(InputSchema):
    """`createNarrative`: what a requester asks for."""

    brand: str = Field(..., description="Brand slug", max_length=60, pattern=SLUG)
    title: str = Field(..., min_length=1, max_length=200, pattern=NO_NUL)
    goal: str = Field(..., min_length=1, max_length=4000, pattern=NO_NUL)
    audience: str = Field(..., min_length=1, max_length=200, pattern=NO_NUL)
    channel: Channel
    tone: str = Field("clear and friendly", max_length=120, pattern=NO_NUL)
    language: Language = Field("en", description="The language of the piece; every section is checked for it")
    risk: Risk = "low"
    template: str = Field(..., description="Prompt template slug", max_length=60, pattern=SLUG)
    sources: list[Id] = Field(
        default_factory=list, max_length=100, description="Knowledge document ids of the brand"
    )


class RevisionIn(InputSchema):
    """A person's revision, based on the revision they opened."""

    content: str = Field(..., min_length=1, max_length=200_000, pattern=NO_NUL, description="Markdown")
    base_revision: Id = Field(..., description="Id of the revision the edit started from")
    note: str = Field("", max_length=300, pattern=NO_NUL)


class QueueFilters(Schema):
    """The review desk's filters. Unknown query parameters are ignored."""

    status: DraftStatus | None = None
    channel: Channel | None = None
    risk: Risk | None = None
    template: str | None = Field(None, max_length=60, pattern=SLUG, description="Prompt template slug")
    brand: str | None = Field(None, max_length=60, pattern=SLUG, description="Brand slug")
    assignee: str | None = Field(None, max_length=150, pattern=USERNAME,
                                 description="Username; `none` for items nobody is reviewing")
    older_than_hours: int | None = Field(None, ge=0, le=24 * 365 * 20,
                                         description="Waiting in its current status at least this many hours")
    newer_than_hours: int | None = Field(None, ge=0, le=24 * 365 * 20,
                                         description="Waiting in its current status at most this many hours")
    q: str | None = Field(None, max_length=200, pattern=NO_NUL,
                          description="Words in the title or the current text (full-text search, English)")
    sources: Literal["changed"] | None = Field(
        None, description="`changed`: a knowledge document it rests on changed since its last approval")
    approved_by: Literal["policy"] | None = Field(
        None, description="`policy`: its current revision was approved by a workflow's policy, without a person")


class RevisionOut(Schema):
    id: int
    number: int
    parent_id: int | None
    author: str
    content: str
    content_hash: str
    provenance: dict
    note: str = ""
    created_at: datetime


class RunOut(Schema):
    id: int
    kind: str
    status: str
    attempt_count: int
    error: str
    tokens_in: int
    tokens_out: int
    latency_ms: float | None


class RejectedTryOut(Schema):
    number: int = Field(description="Which try (1 is the first)")
    problems: list[str]


class SectionQualityOut(Schema):
    """How one section of the latest write came out: usable or not (nothing unusable reaches review)."""

    index: int
    heading: str
    usable: bool
    tries: int = Field(description="Tries the writer made (each rejected one is written again, varied)")
    finish_reason: str = Field(description="How the accepted text ended: stop, or length (then trimmed)")
    trimmed: bool = Field(description="Cut at the length limit and trimmed to its last complete sentence")
    rejected: list[RejectedTryOut] = Field(description="The tries that were not usable, with why")
    problems: list[str] = Field(description="Why the section is not usable (empty when it is)")
    text: str = Field(description="What the last try wrote, when no try was usable")


class GateOut(Schema):
    gate: str
    status: str
    reason: str
    hard: bool


class FindingDetailOut(Schema):
    category: str
    severity: str
    start: int | None
    end: int | None
    text: str
    message: str


class FindingOut(Schema):
    category: str
    severity: str
    start: int | None
    end: int | None
    text: str
    message: str
    details: list[FindingDetailOut] = Field(
        default_factory=list,
        description="Weaker findings about the same problem on the same span, merged into this one "
                    "(e.g. a numeric claim inside a sentence no source supports).")


class RevisionCreatedOut(RevisionOut):
    """The new revision, the findings the brand's rules raised on it, and the draft's status after."""

    findings: list[FindingOut]
    draft_status: str


class WordCountsOut(Schema):
    agent: int = Field(description="Agent text a person kept")
    edited: int = Field(description="Agent text rewritten by a person")
    human: int = Field(description="Text written by a person")
    total: int


class SectionDisclosureOut(Schema):
    index: int | None = Field(description="The `## ` section's index; null for text before the first heading")
    heading: str
    words: WordCountsOut
    ai_share: str = Field(description="agent / total, four decimals")


class AiDisclosureOut(Schema):
    """Which words of a revision the agent wrote (docs/ai-disclosure.md); the same block as the signed
    manifest's `ai_disclosure` and the CMS payload's."""

    format: str
    revision_id: int
    words: WordCountsOut
    ai_share: str = Field(description="agent / total, four decimals")
    ai_involved_share: str = Field(description="(agent + edited) / total, four decimals")
    sections: list[SectionDisclosureOut]


class DraftOut(Schema):
    id: int
    title: str
    status: str
    status_reason: str
    brand: str
    risk: str
    channel: str
    current_revision: RevisionOut | None
    published_revision_id: int | None
    publish_at: datetime | None
    revisions: list[int]
    findings: list[FindingOut]
    gates: list[GateOut]
    sections: list[SectionQualityOut] = Field(description="Quality of each section of the latest write")
    runs: list[RunOut]
    manifest_url: str | None = Field(
        description="Signed provenance manifest (JSON, Ed25519) of the published revision, else the current one"
    )
    ai_disclosure: AiDisclosureOut | None = Field(
        None, description="Who wrote the current revision's words: the agent or people")
    sources_changed: int = Field(0, description="Open \"sources changed\" flags (cleared by approval)")
    approved_by_policy: str | None = Field(None, description="The workflow policy that approved the current "
                                                             "revision without a person; null if people did (or none)")
    publish_problem: str | None = Field(None, description="Why the approved draft was not published (by policy or "
                                                          "at its scheduled time); null when nothing failed")


class DiffOut(Schema):
    a: int
    b: int
    words_added: int
    words_removed: int
    # [op, text] pairs. A list of two, not a tuple: schemathesis reads a 3.1 tuple (prefixItems) as 3.0 `items`.
    ops: list[Annotated[list[str], Field(min_length=2, max_length=2)]]


class StepOut(Schema):
    """The latest agent run of one pipeline step."""

    kind: str
    status: str
    run: int
    attempt_count: int
    error: str


class DraftRefOut(Schema):
    id: int
    title: str
    status: str
    current_revision_id: int | None
    created_at: datetime


class BriefDraftOut(DraftRefOut):
    status_reason: str
    steps: list[StepOut]


class BriefBase(Schema):
    id: int
    title: str
    brand: str
    channel: str
    language: str
    risk: str
    template: str
    requested_by: str
    created_at: datetime


class BriefSummaryOut(BriefBase):
    drafts: list[DraftRefOut]


class BriefDetailOut(BriefBase):
    goal: str
    audience: str
    tone: str
    sources: list[int]
    drafts: list[BriefDraftOut] = Field(description="Each with the latest agent run of every pipeline step")


class BriefPage(Schema):
    items: list[BriefSummaryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class QueueItemOut(Schema):
    id: int
    title: str
    status: str
    brand: str
    channel: str
    risk: str
    template: str
    assignee: str | None
    requested_by: str
    current_revision_id: int | None
    publish_at: datetime | None
    created_at: datetime
    status_changed_at: datetime
    sources_changed: int = Field(0, description="Open \"sources changed\" flags (cleared by approval)")
    approved_by_policy: str | None = Field(None, description="The workflow policy that approved the current "
                                                             "revision without a person; null if people did (or none)")


class QueuePage(Schema):
    items: list[QueueItemOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class FieldErrorOut(Schema):
    field: str | None = Field(description="Dotted location, e.g. `body.content`; null for the whole request")
    message: str


class ErrorOut(Schema):
    """An RFC 9457 problem, served as `application/problem+json`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str | None = Field(None, description="Names the problem for programs, e.g. `validation_error`")
    errors: list[FieldErrorOut] | None = Field(None, description="Invalid fields, for 422")


class ConflictOut(ErrorOut):
    """A stale `base_revision`: the revision saved meanwhile, so the client can merge and send again."""

    title: str = "Conflict"
    status: int = 409
    code: str | None = "edit_conflict"
    current_revision: RevisionOut | None


def errors(*codes: int) -> dict[int, type[ErrorOut]]:
    """A route's documented problems: 401 (no session or token) and 403 (not allowed, or the token
    lacks the route's scope) always, and `codes`."""
    return {code: ErrorOut for code in (401, 403, *codes)}
