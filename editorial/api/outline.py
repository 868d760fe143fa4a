"""/api/v1 routes of the outline checkpoint: read a draft's outline, approve it (edited); the same
selectors and services as editorial/views/outline.py."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from agents.pipeline import outline as outline_services
from editorial import selectors
from editorial.models import Draft
from editorial.schemas import NO_NUL, InputSchema, PathId, errors
from governance.permissions import api_scope_required

router = Router(tags=["proposals and outlines"])


class OutlineSectionIn(InputSchema):
    heading: str = Field(..., max_length=outline_services.MAX_HEADING, pattern=NO_NUL)
    instruction: str = Field("", max_length=outline_services.MAX_INSTRUCTION, pattern=NO_NUL)


class OutlineIn(InputSchema):
    sections: list[OutlineSectionIn] = Field(..., max_length=outline_services.MAX_SECTIONS)


class OutlineSectionOut(Schema):
    heading: str
    instruction: str = ""


class OutlineOut(Schema):
    draft_status: str
    sections: list[OutlineSectionOut]
    can_approve: bool



@router.get("/drafts/{draft_id}/outline", operation_id="getOutline", response={200: OutlineOut, **errors(404, 422)})
def get_outline(request: HttpRequest, draft_id: PathId):
    """The latest outline: the planner's, or the one a person approved."""
    api_scope_required(request, "read")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id)
    return {"draft_status": draft.status, "sections": outline_services.outline_of(draft),
            "can_approve": draft.status == Draft.Status.OUTLINE_REVIEW
            and outline_services.may_approve_outline(request.user, draft)}


@router.post("/drafts/{draft_id}/outline", operation_id="approveOutline",
             response={202: OutlineOut, **errors(404, 409, 422)})
def approve_outline(request: HttpRequest, draft_id: PathId, payload: OutlineIn):
    """Approve the outline (edited: reorder, add, remove, rename) of a draft waiting in `outline_review`;
    the draft is then written from it."""
    api_scope_required(request, "write")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id)
    rows = [outline_services.OutlineRow(heading=s.heading, instruction=s.instruction) for s in payload.sections]
    try:
        outline_services.outline_approve(draft=draft, user=request.user, rows=rows)
    except outline_services.OutlineInvalid as exc:
        raise ValidationError({
            **{f"sections.{i}": row.errors for i, row in enumerate(exc.rows) if row.errors},
            "__all__": exc.messages,
        }) from exc
    except ValidationError as exc:
        if not Draft.objects.filter(pk=draft.pk, status=Draft.Status.OUTLINE_REVIEW).exists():
            return Status(409, {"title": "Conflict", "status": 409, "detail": " ".join(exc.messages),
                                "code": "no_outline_to_approve"})
        raise
    draft.refresh_from_db(fields=["status"])
    return Status(202, {"draft_status": draft.status, "sections": outline_services.outline_of(draft),
                        "can_approve": False})
