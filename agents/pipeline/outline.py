"""The outline checkpoint: a prompt version with `outline_checkpoint` pauses the pipeline after the plan.

The draft waits in OUTLINE_REVIEW (no retrieve run yet) until an editor of the brand or the brief's
requester approves the outline, perhaps edited. The approved outline is recorded as a new succeeded
PLAN run requested by that person, so the write step (`_previous_output(draft, PLAN)`) follows it;
then retrieve → write → check run as usual.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from agents.models import AgentRun, RunSection
from agents.pipeline.runs import run_create
from editorial.models import Draft
from editorial.realtime import push_draft_event
from editorial.transitions import draft_transition
from governance.permissions import draft_policy

Kind = AgentRun.Kind
MAX_SECTIONS = 20
MAX_HEADING = RunSection._meta.get_field("heading").max_length
MAX_INSTRUCTION = 1000


def outline_pause(*, run: AgentRun, draft: Draft) -> bool:
    """Called by run_succeed for a PLAN run, with the draft row locked: park the draft for a person when
    its template version asks for it. A plan a person approved is never paused again."""
    version = draft.prompt_version
    if run.requested_by_id is not None or version is None or not version.outline_checkpoint:
        return False
    progress = {"kind": "run", "run": run.pk, "step": run.kind, "status": run.status}
    transaction.on_commit(lambda: push_draft_event(draft.pk, progress))
    draft_transition(draft=draft, to=Draft.Status.OUTLINE_REVIEW, reason="", action="editorial.outline.ready",
                     run=run, data={"plan_run": run.pk, "sections": len(run.output.get("sections", []))})
    return True


def outline_of(draft: Draft) -> list[dict[str, str]]:
    """The latest outline: what the planner proposed, or what a person approved since."""
    plan = (AgentRun.objects.filter(draft=draft, kind=Kind.PLAN, status=AgentRun.Status.SUCCEEDED)
            .order_by("-finished_at", "-id").first())
    return [dict(s) for s in plan.output.get("sections", [])] if plan else []


def may_approve_outline(user: Any, draft: Draft) -> bool:
    """Editors of the brand, and the person who filed the brief (they know what they asked for)."""
    if draft_policy.user_has_permission_for_instance(user, "edit", draft):
        return True
    return (draft_policy.user_has_permission_for_instance(user, "view", draft)
            and draft.brief.requested_by_id == getattr(user, "pk", None))


@dataclass
class OutlineRow:
    heading: str = ""
    instruction: str = ""
    errors: list[str] = field(default_factory=list)


class OutlineInvalid(ValidationError):
    """The outline as typed, with a message per row, so the form can show it again."""

    def __init__(self, message: str, rows: list[OutlineRow]) -> None:
        super().__init__(message)
        self.rows = rows


def outline_rows(headings: list[str], instructions: list[str]) -> list[OutlineRow]:
    """Rows from the form's parallel lists; a row left wholly empty is a removed row."""
    if len(headings) != len(instructions):
        raise ValidationError("The outline form was incomplete; nothing was saved. Reload the page and try again.")
    rows = [OutlineRow(heading=h.strip(), instruction=i.replace("\r\n", "\n").strip())
            for h, i in zip(headings, instructions, strict=True)]
    return [r for r in rows if r.heading or r.instruction]


def outline_clean(rows: list[OutlineRow]) -> list[dict[str, str]]:
    """The sections to write, or OutlineInvalid saying what is wrong with which row."""
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        row.errors = []
        row.heading = row.heading.lstrip("#").strip()
        if not row.heading:
            row.errors.append("Give this section a heading (or clear its instruction to remove it).")
        elif "\n" in row.heading:
            row.errors.append("A heading is one line.")
        elif len(row.heading) > MAX_HEADING:
            row.errors.append(f"Keep the heading to {MAX_HEADING} characters (it has {len(row.heading)}).")
        elif row.heading.casefold() in seen:
            row.errors.append(f"Section {seen[row.heading.casefold()]} has this heading already.")
        else:
            seen[row.heading.casefold()] = number
        if len(row.instruction) > MAX_INSTRUCTION:
            row.errors.append(f"Keep the instruction to {MAX_INSTRUCTION} characters (it has {len(row.instruction)}).")
    if not rows:
        raise OutlineInvalid("An outline needs at least one section; nothing was approved.", rows)
    if len(rows) > MAX_SECTIONS:
        raise OutlineInvalid(f"An outline has at most {MAX_SECTIONS} sections (this one has {len(rows)}); "
                             "nothing was approved.", rows)
    bad = sum(1 for r in rows if r.errors)
    if bad:
        raise OutlineInvalid(f"{bad} section{'s' if bad != 1 else ''} need{'' if bad != 1 else 's'} fixing; "
                             "nothing was approved.", rows)
    return [{"heading": r.heading, "instruction": r.instruction} for r in rows]


@transaction.atomic
def outline_approve(*, draft: Draft, user: Any, rows: list[OutlineRow]) -> AgentRun:
    """Record the (edited) outline as a PLAN run by `user` and go on with retrieve → write → check."""
    if not may_approve_outline(user, draft):
        raise PermissionDenied("Only editors of this brand and the brief's requester can approve its outline.")
    # Lock order: the draft row first, then the audit chain (audit_log). A second click waits here,
    # then finds the draft generating.
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=draft.pk)
    if draft.status != Draft.Status.OUTLINE_REVIEW:
        if draft.status == Draft.Status.GENERATING:
            raise ValidationError("The outline was approved already; the draft is being written.")
        raise ValidationError(f"The draft is “{draft.get_status_display()}”; there is no outline to approve.")
    sections = outline_clean(rows)
    proposed = (AgentRun.objects.filter(draft=draft, kind=Kind.PLAN, status=AgentRun.Status.SUCCEEDED)
                .order_by("-finished_at", "-id").first())
    proposed_sections = proposed.output.get("sections", []) if proposed else []
    edited = sections != [{"heading": s.get("heading", ""), "instruction": s.get("instruction", "")}
                          for s in proposed_sections]
    now = timezone.now()
    approved = AgentRun.objects.create(
        draft=draft, kind=Kind.PLAN, status=AgentRun.Status.SUCCEEDED, attempt_count=1,
        idempotency_key=f"draft:{draft.pk}:plan:approved:{proposed.pk if proposed else 'none'}",
        prompt_version=draft.prompt_version, requested_by=user,
        input={"approved_from": proposed.pk if proposed else None, "edited": edited},
        output={"sections": sections}, started_at=now, heartbeat_at=now, finished_at=now, latency_ms=0,
    )
    draft_transition(draft=draft, to=Draft.Status.GENERATING, action="editorial.outline.approve", user=user, data={
        "plan_run": approved.pk, "proposed_run": proposed.pk if proposed else None, "edited": edited,
        "headings": {"old": [s.get("heading") for s in proposed_sections], "new": [s["heading"] for s in sections]},
    })
    run_create(draft=draft, kind=Kind.RETRIEVE, key=f"draft:{draft.pk}:{Kind.RETRIEVE}:after:{approved.pk}")
    return approved
