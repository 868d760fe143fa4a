"""/api/v1 batches: upload a file's rows (validated whole; 422 lists problems by row and column),
read a batch's estimate and progress, list its rows by state, change when its drafts approved by
policy are published, start (or schedule), pause, resume, cancel."""
from __future__ import annotations

import io
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema, Status

from agents.models import PromptTemplate
from editorial.api.pagination import cursor_param, limit_param, number_cursor_decode, number_cursor_encode
from editorial.batches import services
from editorial.batches.models import Batch, BatchRow
from editorial.batches.selectors import ROW_STATE_BY_KEY, batch_get_for_user, batch_rows_after_for_user
from editorial.schemas import NO_NUL, SLUG, Channel, DraftStatus, InputSchema, Language, PathId, Risk, errors
from governance.permissions import api_scope_required, brands_for_user

router = Router(tags=["batches"])


class BatchIn(InputSchema):
    brand: str = Field(..., max_length=60, pattern=SLUG)
    template: str = Field(..., max_length=60, pattern=SLUG)
    name: str = Field("", max_length=200, pattern=NO_NUL)
    channel: Channel
    risk: Risk = "low"
    language: Language = "en"
    format: Literal["csv", "json"] = Field(..., description="csv (with a header row), or json (an array of objects, "
                                                            "or one object per line)")
    content: str = Field(..., min_length=1, description="The file's text", pattern=NO_NUL)
    mapping: dict[str, str] = Field(default_factory=dict, description="Brief field or template variable → column; "
                                    "a column named like a target is used by itself")
    defaults: dict[str, str] = Field(default_factory=dict, description="Text for brief fields no column gives; "
                                     "{column} placeholders are filled from the row")
    policy_publish_at: datetime | None = Field(
        None, description="When drafts a workflow approves by policy are published (with a timezone, in the future, "
                          "at most five years ahead); empty: each as soon as it is approved")


class BatchChangeIn(InputSchema):
    policy_publish_at: datetime | None = Field(
        ..., description="When drafts a workflow approves by policy are published (with a timezone, in the future, at "
                         "most five years ahead); null: each as soon as it is approved. Drafts the policy already "
                         "scheduled for the old time move to the new one (null: they are published now); published "
                         "drafts stay published; a draft a person scheduled keeps that time.")


class BatchStartIn(InputSchema):
    start_at: datetime | None = Field(None, description="Schedule for later (off-peak); empty: start now")


class RowErrorOut(Schema):
    row: int = Field(..., description="1 = the first data row; 0 = the file or the mapping as a whole")
    column: str
    message: str


class BatchInvalidOut(Schema):
    type: str = "about:blank"
    title: str = "Unprocessable Content"
    status: int = 422
    detail: str
    code: str = "batch_invalid"
    error_count: int
    errors: list[RowErrorOut]


class BatchOut(Schema):
    id: int
    name: str
    brand: str
    template: str
    status: str
    total: int
    start_at: datetime | None
    policy_publish_at: datetime | None = Field(None, description="When its drafts approved by policy are published "
                                                                "(null: as soon as approved)")
    estimate: dict[str, Any]
    progress: dict[str, Any]
    created_at: datetime


# The row states, as the batch page's tabs name them (editorial/batches/selectors.py ROW_STATES).
RowStateKey = Literal[tuple(ROW_STATE_BY_KEY)]  # type: ignore[valid-type]
ROW_STATES_DOC = ("A tab of the batch page: `waiting` (not filed yet), `writing`, `review`, `approved`, `published`, "
                  "`human` (needs a human, or an outline to approve), `failed` (refused when filed, or the draft "
                  "failed), `cancelled`, `other` (sent back, rejected or retracted)")


class BatchRowOut(Schema):
    number: int = Field(..., description="The row's number in the file (1 = the first data row)")
    title: str
    state: RowStateKey = Field(..., description=ROW_STATES_DOC)
    state_label: str = Field(..., description="As the batch page shows it, e.g. “Approved by policy Low-risk”")
    reason: str | None = Field(None, description="Why a row failed, was refused or needs a human")
    brief_id: int | None = Field(None, description="Null until the row is filed")
    draft_id: int | None
    draft_status: DraftStatus | None
    approved_by_policy: str | None = Field(None, description="The policy that approved the draft's current "
                                                             "revision, when no person did")
    state_changed_at: datetime | None = Field(None, description="When the draft's status last changed")


class BatchRowsOut(Schema):
    batch: int
    state: RowStateKey | None
    total: int = Field(..., description="The batch's rows in every state")
    counts: dict[str, int] = Field(..., description="Rows per state, now")
    items: list[BatchRowOut]
    next_cursor: str | None


def row_out(row: BatchRow) -> dict[str, Any]:
    draft = row.draft
    return {"number": row.number, "title": str(row.values.get("title", "")), "state": row.state_key,
            "state_label": row.state_label, "reason": row.reason or None,
            "brief_id": draft.brief_id if draft else None, "draft_id": row.draft_id,
            "draft_status": draft.status if draft else None, "approved_by_policy": row.approved_by_policy or None,
            "state_changed_at": draft.status_changed_at if draft else None}


def batch_out(batch: Batch) -> dict[str, Any]:
    return {"id": batch.pk, "name": batch.name, "brand": batch.brand.slug, "template": batch.template.slug,
            "status": batch.status, "total": batch.total, "start_at": batch.start_at,
            "policy_publish_at": batch.policy_publish_at, "estimate": batch.estimate,
            "progress": services.batch_counts(batch), "created_at": batch.created_at}


@router.post("/batches", operation_id="createBatch", response={201: BatchOut, 422: BatchInvalidOut, **errors(404)})
def create_batch(request: HttpRequest, payload: BatchIn):
    """Check every row; store the batch (status `ready`, with its estimate) or answer 422 listing the
    problems by row and column. Nothing is filed until POST /batches/{id}/start."""
    api_scope_required(request, "write")
    if len(payload.content.encode()) > settings.AIOS_BULK_MAX_BYTES:
        raise ValidationError({"content": f"At most {settings.AIOS_BULK_MAX_BYTES // 1_000_000} MB."})
    brand = brands_for_user(request.user).filter(slug=payload.brand).first()
    if brand is None:
        raise ValidationError({"brand": f"No brand {payload.brand!r} that you belong to."})
    template = PromptTemplate.objects.filter(slug=payload.template).first()
    if template is None:
        raise ValidationError({"template": f"No template {payload.template!r}."})
    try:
        batch = services.batch_upload(
            user=request.user, stream=io.BytesIO(payload.content.encode()), fmt=payload.format, brand=brand,
            template=template, name=payload.name, channel=payload.channel, risk=payload.risk,
            language=payload.language, mapping=payload.mapping, defaults=payload.defaults,
            policy_publish_at=payload.policy_publish_at,
        )
    except services.BatchInvalid as exc:
        return Status(422, {"detail": str(exc), "error_count": exc.error_count, "errors": exc.errors})
    return Status(201, batch_out(batch))


@router.get("/batches/{batch_id}", operation_id="getBatch", response={200: BatchOut, **errors(404)})
def get_batch(request: HttpRequest, batch_id: PathId):
    api_scope_required(request, "read")
    return batch_out(batch_get_for_user(user=request.user, pk=batch_id))


@router.patch("/batches/{batch_id}", operation_id="updateBatch", response={200: BatchOut, **errors(404, 422)})
def update_batch(request: HttpRequest, batch_id: PathId, payload: BatchChangeIn):
    """Change or clear `policy_publish_at`, in any status of the batch (roles that may start it). Drafts
    the policy scheduled for the old time are rescheduled (or, when cleared, published now); published
    drafts stay published."""
    api_scope_required(request, "write")
    batch = batch_get_for_user(user=request.user, pk=batch_id, action="change")
    services.batch_policy_publish_at_set(user=request.user, batch=batch, policy_publish_at=payload.policy_publish_at)
    return batch_out(Batch.objects.select_related("brand", "template").get(pk=batch.pk))


# Before /batches/{batch_id}/{action}: Django tries the URL patterns in order.
@router.get("/batches/{batch_id}/rows", operation_id="listBatchRows", response={200: BatchRowsOut, **errors(404, 422)})
def list_batch_rows(request: HttpRequest, batch_id: PathId,
                    state: RowStateKey | None = Query(None, description=ROW_STATES_DOC),  # type: ignore[valid-type]
                    cursor: str | None = cursor_param(), limit: int = limit_param()):
    """The batch's rows in file order, a page at a time, optionally in one state (the batch page's
    tabs), with the count of every state. Keyed by row number: a row that stays in the state is never
    skipped or repeated while other rows move between states."""
    api_scope_required(request, "read")
    after = number_cursor_decode(cursor) if cursor else 0
    chosen = batch_rows_after_for_user(user=request.user, pk=batch_id, state=state or "", after=after, limit=limit)
    return {"batch": chosen.batch.pk, "state": chosen.state.key if chosen.state else None,
            "total": sum(chosen.counts.values()), "counts": chosen.counts,
            "items": [row_out(r) for r in chosen.rows],
            "next_cursor": number_cursor_encode(chosen.rows[-1].number) if chosen.more else None}


@router.post("/batches/{batch_id}/{action}", operation_id="actOnBatch", response={200: BatchOut, **errors(404, 422)})
def act_on_batch(request: HttpRequest, batch_id: PathId, action: Literal["start", "pause", "resume", "cancel"],
                 payload: BatchStartIn | None = None):
    """`start` (with `start_at` to schedule), `pause`, `resume`, `cancel` (filed drafts are kept)."""
    api_scope_required(request, "write")
    batch = batch_get_for_user(user=request.user, pk=batch_id, action=action)
    if action == "start":
        batch = services.batch_start(user=request.user, batch=batch, start_at=payload.start_at if payload else None)
    elif action in ("pause", "resume", "cancel"):
        batch = getattr(services, f"batch_{action}")(user=request.user, batch=batch)
    else:
        raise Http404("No such action.")
    return batch_out(Batch.objects.select_related("brand", "template").get(pk=batch.pk))
