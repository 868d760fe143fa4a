"""/api/v1 briefs: file one (its draft is the answer), list them, read one with its drafts' steps."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest
from ninja import Router, Status

from agents.models import AgentRun, KnowledgeDocument, PromptTemplate
from editorial import briefs, selectors
from editorial.api.drafts import draft_out
from editorial.api.pagination import cursor_param, limit_param, paginate
from editorial.models import Brief, Draft
from editorial.schemas import BriefDetailOut, BriefIn, BriefPage, DraftOut, errors
from governance.permissions import api_scope_required, brands_for_user

router = Router(tags=["editorial"])


def _brief_base(brief: Brief) -> dict[str, Any]:
    return {
        "id": brief.pk, "title": brief.title, "brand": brief.brand.slug, "channel": brief.channel,
        "language": brief.language, "risk": brief.risk, "template": brief.template.slug, "requested_by": brief.requested_by.username,
        "created_at": brief.created_at,
    }


def _draft_ref(draft: Draft) -> dict[str, Any]:
    return {"id": draft.pk, "title": draft.title, "status": draft.status,
            "current_revision_id": draft.current_revision_id, "created_at": draft.created_at}


def _steps(draft: Draft) -> list[dict[str, Any]]:
    """The latest run of each pipeline step, in pipeline order (as the live view shows them)."""
    latest: dict[str, AgentRun] = {}
    for run in draft.runs.order_by("created_at", "id"):
        latest[run.kind] = run
    order = {kind: i for i, kind in enumerate(AgentRun.Kind.values)}
    return [
        {"kind": run.kind, "status": run.status, "run": run.pk, "attempt_count": run.attempt_count,
         "error": run.error}
        for run in sorted(latest.values(), key=lambda r: order.get(r.kind, len(order)))
    ]


def _visible_briefs(user: Any) -> QuerySet[Brief]:
    # A brief is visible exactly when its drafts are: the same selector as the queue.
    visible = selectors.drafts_for_user(user=user).order_by().values("brief_id")
    return (
        Brief.objects.filter(pk__in=visible)
        .select_related("brand", "template", "requested_by")
        .prefetch_related(Prefetch("drafts", queryset=Draft.objects.order_by("created_at", "id")))
    )



@router.post("/briefs", operation_id="createNarrative", response={201: DraftOut, **errors(404, 422)})
def create_brief(request: HttpRequest, payload: BriefIn):
    """File a brief; the answer is its draft, status `generating`. Follow it with GET /drafts/{id}."""
    api_scope_required(request, "write")
    brand = brands_for_user(request.user).filter(slug=payload.brand).first()
    if brand is None:
        raise ValidationError({"brand": f"No brand {payload.brand!r} that you belong to."})
    template = PromptTemplate.objects.filter(slug=payload.template).first()
    if template is None:
        raise ValidationError({"template": f"No template {payload.template!r}."})
    sources = list(KnowledgeDocument.objects.filter(pk__in=payload.sources, brand=brand))
    missing = set(payload.sources) - {d.pk for d in sources}
    if missing:
        raise ValidationError({"sources": f"Unknown documents for this brand: {sorted(missing)}"})
    draft = briefs.brief_create(
        user=request.user, brand=brand, title=payload.title, goal=payload.goal, audience=payload.audience,
        channel=payload.channel, tone=payload.tone, risk=payload.risk, template=template, sources=sources,
        language=payload.language,
    )
    return Status(201, draft_out(request, selectors.draft_get_for_user(user=request.user, pk=draft.pk)))


@router.get("/briefs", operation_id="listBriefs", response={200: BriefPage, **errors(422)})
def list_briefs(request: HttpRequest, cursor: str | None = cursor_param(), limit: int = limit_param()):
    """Briefs of the brands you work on, newest first, a page at a time."""
    api_scope_required(request, "read")
    page, next_cursor = paginate(_visible_briefs(request.user), cursor=cursor, limit=limit)
    items = [{**_brief_base(b), "drafts": [_draft_ref(d) for d in b.drafts.all()]} for b in page]
    return {"items": items, "next_cursor": next_cursor}


@router.get("/briefs/{brief_id}", operation_id="getBrief", response={200: BriefDetailOut, **errors(404)})
def get_brief(request: HttpRequest, brief_id: int):
    """A brief with its drafts and, for each, the latest agent run of every pipeline step."""
    api_scope_required(request, "read")
    brief = _visible_briefs(request.user).filter(pk=brief_id).first()
    if brief is None:
        raise Http404("No such brief.")
    return {
        **_brief_base(brief),
        "goal": brief.goal, "audience": brief.audience, "tone": brief.tone,
        "sources": sorted(brief.sources.values_list("pk", flat=True)),
        "drafts": [{**_draft_ref(d), "status_reason": d.status_reason, "steps": _steps(d)} for d in brief.drafts.all()],
    }
