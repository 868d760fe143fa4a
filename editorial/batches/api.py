"""/api/v1 batches: upload a file's rows (validated whole; 422 lists problems by row and column),
read a batch's estimate and progress, start (or schedule), pause, resume, cancel."""
from __future__ import annotations

import io
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status

from agents.models import PromptTemplate
from editorial.batches import services
from editorial.batches.models import Batch
from editorial.batches.selectors import batch_get_for_user
from editorial.schemas import NO_NUL, SLUG, Channel, InputSchema, Language, PathId, Risk, errors
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
