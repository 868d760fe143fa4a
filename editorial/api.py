"""The editorial part of /api/v1. Same selectors and services as the HTML views."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router, Status

from agents.models import KnowledgeDocument, PromptTemplate
from editorial import selectors, services
from editorial.diffs import word_diff
from editorial.models import Draft
from editorial.schemas import BriefIn, DiffOut, DraftOut, ErrorOut
from governance.gates import gate_states
from governance.permissions import brands_for_user

router = Router(tags=["editorial"])


def _draft_out(draft: Draft) -> dict:
    current = draft.current_revision
    return {
        "id": draft.pk,
        "title": draft.title,
        "status": draft.status,
        "status_reason": draft.status_reason,
        "brand": draft.brand.slug,
        "risk": draft.brief.risk,
        "channel": draft.brief.channel,
        "current_revision": None if current is None else {
            "id": current.pk, "number": current.number, "parent_id": current.parent_id,
            "author": current.author_label, "content": current.content, "content_hash": current.content_hash,
            "provenance": current.provenance, "created_at": current.created_at,
        },
        "revisions": list(draft.revisions.order_by("number").values_list("pk", flat=True)),
        "findings": list(current.findings.values("category", "severity", "start", "end", "text", "message"))
        if current else [],
        "gates": [{"gate": s.gate.slug, "status": s.status, "reason": s.reason, "hard": s.is_hard}
                  for s in gate_states(draft)],
        "runs": list(draft.runs.order_by("id").values(
            "id", "kind", "status", "attempt_count", "error", "tokens_in", "tokens_out", "latency_ms")),
    }


@router.post("/briefs", response={201: DraftOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def create_brief(request: HttpRequest, payload: BriefIn):
    """File a brief; the answer is its draft, status `generating`. Follow it with GET /drafts/{id}."""
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
    draft = services.brief_create(
        user=request.user, brand=brand, title=payload.title, goal=payload.goal, audience=payload.audience,
        channel=payload.channel, tone=payload.tone, risk=payload.risk, template=template, sources=sources,
    )
    return Status(201, _draft_out(selectors.draft_get_for_user(user=request.user, pk=draft.pk)))


@router.get("/drafts/{draft_id}", response={200: DraftOut, 404: ErrorOut})
def get_draft(request: HttpRequest, draft_id: int):
    """A draft with its current revision, findings, gates (and why each applies) and agent runs."""
    return _draft_out(selectors.draft_get_for_user(user=request.user, pk=draft_id))


@router.get("/drafts/{draft_id}/diff", response={200: DiffOut, 404: ErrorOut})
def diff_revisions(request: HttpRequest, draft_id: int, a: int, b: int):
    """Word-level diff between two revisions of the draft."""
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id)
    old = selectors.revision_get_for_draft(draft=draft, pk=a)
    new = selectors.revision_get_for_draft(draft=draft, pk=b)
    diff = word_diff(old.content, new.content)
    return {"a": old.pk, "b": new.pk, "words_added": diff.words_added, "words_removed": diff.words_removed,
            "ops": [(op.op, op.text) for op in diff.ops]}
