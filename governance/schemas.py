from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import AwareDatetime, model_validator

from editorial.schemas import NO_NUL, Channel, FindingOut, Id, InputSchema

Decision = Literal["approve", "request_changes", "reject"]


class EvaluateIn(InputSchema):
    """`evaluateDraft`: either a revision of the draft, or text (with an optional channel)."""

    revision: Id | None = Field(None, description="A revision of this draft")
    text: str | None = Field(None, max_length=200_000, description="Text to check instead of a revision")
    channel: Channel | None = Field(None, description="Defaults to the draft's channel")

    @model_validator(mode="after")
    def exactly_one_subject(self) -> EvaluateIn:
        if (self.revision is None) == (self.text is None):
            raise ValueError("Give exactly one of `revision` or `text`.")
        return self


class SignOffIn(InputSchema):
    revision: Id = Field(..., description="The revision you reviewed; it must still be the current one")
    comment: str = Field(
        "", max_length=4000, pattern=NO_NUL,
        description="Required (the reason) to request changes or reject",
    )


class PublishIn(InputSchema):
    connectors: list[Id] | None = Field(
        None, min_length=1, max_length=50,
        description="Active connector ids of the draft's brand to publish to; omit for all of them",
    )


class RetractIn(InputSchema):
    reason: str = Field(..., min_length=1, max_length=2000, pattern=NO_NUL)


class ScheduleIn(InputSchema):
    publish_at: AwareDatetime = Field(..., description="ISO 8601 with a UTC offset, in the future (≤ 5 years)")


class RuleSetVersionRef(Schema):
    id: int
    rule_set: str
    number: int


class EvaluatedFindingOut(FindingOut):
    suggestion: str


class EvaluationOut(Schema):
    """Findings under the brand's active rules; nothing is saved."""

    draft: int
    revision: int | None
    channel: str
    rule_set_version: RuleSetVersionRef | None
    blocking: int
    findings: list[EvaluatedFindingOut]


class SignOffRef(Schema):
    id: int
    decision: Decision
    by: str
    revision: int
    comment: str
    created_at: datetime


class GateActionsOut(Schema):
    gate: str
    name: str
    stage: int
    hard: bool
    status: Literal["pending", "waiting", "approved", "changes_requested", "rejected"]
    reason: str = Field(description="Why this gate applies to the draft")
    can_sign: bool = Field(description="You are in the gate's group")
    actions: list[Decision] = Field(
        description="What you may do now: POST …/gates/{gate}/approve | request-changes | reject"
    )
    signoff: SignOffRef | None = Field(description="The decision the status stands on")


class ActionsOut(Schema):
    draft: int
    status: str
    revision: int | None = Field(description="Send this as `revision` when signing")
    blocking_findings: int = Field(description="Unresolved blocking findings; approval waits for them")
    gates: list[GateActionsOut]


class SignOffOut(SignOffRef):
    gate: str
    draft_status: str


class ConnectorRef(Schema):
    id: int
    name: str


class AttemptOut(Schema):
    number: int
    status_code: int | None
    latency_ms: float | None
    excerpt: str
    error: str
    created_at: datetime


class DeliveryOut(Schema):
    id: int
    connector: ConnectorRef
    event_type: str
    webhook_id: str
    revision: int
    status: Literal["pending", "delivered", "retrying", "dead"]
    attempt_count: int
    next_attempt_at: datetime | None
    remote_id: str
    remote_url: str
    created_at: datetime
    delivered_at: datetime | None
    attempts: list[AttemptOut]


class DeliveriesOut(Schema):
    """Deliveries are sent in the background; follow them with GET /drafts/{id}/deliveries."""

    draft: int
    status: str
    deliveries: list[DeliveryOut]


class ScheduleOut(Schema):
    draft: int
    status: str
    publish_at: datetime | None
    publish_requested_by: str | None
