"""The editorial part of /api/v1: briefs, drafts, revisions and the review queue.

Same selectors and services as the HTML views, so the API allows exactly what the pages allow.
Every route first names the token scope it needs (`api_scope_required`).
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Query, Router, Status

from agents.models import AgentRun, KnowledgeDocument, PromptTemplate
from editorial import briefs, editing, selectors
from editorial.diffs import word_diff
from editorial.models import Brief, Draft, Revision
from editorial.schemas import (
    MAX_ID,
    BriefDetailOut,
    BriefIn,
    BriefPage,
    ConflictOut,
    DiffOut,
    DraftOut,
    QueueFilters,
    QueuePage,
    RevisionCreatedOut,
    RevisionIn,
    errors,
)
from governance.gates import gate_states
from governance.permissions import api_scope_required, brands_for_user

router = Router(tags=["editorial"])

CURSOR_PATTERN = r"^[A-Za-z0-9_-]{0,200}$"
DEFAULT_LIMIT, MAX_LIMIT = 25, 100


# --- cursor pagination ----------------------------------------------------------------------------

def cursor_encode(item: Any) -> str:
    """Opaque to clients: the (created_at, id) of the last item they saw."""
    raw = json.dumps([item.created_at.isoformat(), item.pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    try:
        created, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created_at = datetime.fromisoformat(created)
        if timezone.is_naive(created_at) or type(pk) is not int or not 1 <= pk <= MAX_ID:
            raise ValueError("not a cursor")
    except (ValueError, TypeError, binascii.Error, OverflowError) as exc:
        raise ValidationError({"cursor": "Not a cursor this API gave out; start again without one."}) from exc
    return created_at, pk


def paginate(qs: QuerySet, *, cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    """Newest first, stable under inserts: items strictly after the cursor's (created_at, id)."""
    qs = qs.order_by("-created_at", "-pk")
    if cursor:
        created_at, pk = cursor_decode(cursor)
        qs = qs.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    items = list(qs[: limit + 1])
    next_cursor = cursor_encode(items[limit - 1]) if len(items) > limit else None
    return items[:limit], next_cursor


def cursor_param() -> Any:
    return Query(None, max_length=200, pattern=CURSOR_PATTERN, description="`next_cursor` of the previous page")


def limit_param() -> Any:
    return Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page")


# --- shapes -----------------------------------------------------------------------------------------

def revision_out(revision: Revision) -> dict[str, Any]:
    return {
        "id": revision.pk, "number": revision.number, "parent_id": revision.parent_id,
        "author": revision.author_label, "content": revision.content, "content_hash": revision.content_hash,
        "provenance": revision.provenance, "note": revision.note, "created_at": revision.created_at,
    }


FINDING_FIELDS = ("category", "severity", "start", "end", "text", "message")


def draft_out(request: HttpRequest, draft: Draft) -> dict[str, Any]:
    current = draft.current_revision
    has_manifest = draft.published_revision_id or draft.current_revision_id
    return {
        "id": draft.pk,
        "title": draft.title,
        "status": draft.status,
        "status_reason": draft.status_reason,
        "brand": draft.brand.slug,
        "risk": draft.brief.risk,
        "channel": draft.brief.channel,
        "current_revision": None if current is None else revision_out(current),
        "published_revision_id": draft.published_revision_id,
        "publish_at": draft.publish_at,
        "revisions": list(draft.revisions.order_by("number").values_list("pk", flat=True)),
        "findings": list(current.findings.values(*FINDING_FIELDS)) if current else [],
        "gates": [{"gate": s.gate.slug, "status": s.status, "reason": s.reason, "hard": s.is_hard}
                  for s in gate_states(draft)],
        "runs": list(draft.runs.order_by("id").values(
            "id", "kind", "status", "attempt_count", "error", "tokens_in", "tokens_out", "latency_ms")),
        "manifest_url": request.build_absolute_uri(reverse("governance:manifest", kwargs={"pk": draft.pk}))
        if has_manifest else None,
    }


def _brief_base(brief: Brief) -> dict[str, Any]:
    return {
        "id": brief.pk, "title": brief.title, "brand": brief.brand.slug, "channel": brief.channel,
        "risk": brief.risk, "template": brief.template.slug, "requested_by": brief.requested_by.username,
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


# --- briefs -----------------------------------------------------------------------------------------

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
    )
    return Status(201, draft_out(request, selectors.draft_get_for_user(user=request.user, pk=draft.pk)))


@router.get("/briefs", operation_id="listBriefs", response={200: BriefPage, **errors(422)})
def list_briefs(request: HttpRequest, cursor: str | None = cursor_param(), limit: int = limit_param()):
    """Briefs of the brands you work on, newest first, a page at a time."""
    api_scope_required(request, "read")
    briefs, next_cursor = paginate(_visible_briefs(request.user), cursor=cursor, limit=limit)
    items = [{**_brief_base(b), "drafts": [_draft_ref(d) for d in b.drafts.all()]} for b in briefs]
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


# --- drafts -----------------------------------------------------------------------------------------

@router.get("/drafts/{draft_id}", operation_id="getDraft", response={200: DraftOut, **errors(404)})
def get_draft(request: HttpRequest, draft_id: int):
    """A draft with its current revision and its provenance, findings, gates (and why each applies),
    agent runs, and the link to its signed provenance manifest."""
    api_scope_required(request, "read")
    return draft_out(request, selectors.draft_get_for_user(user=request.user, pk=draft_id))


@router.get("/drafts/{draft_id}/diff", operation_id="diffRevisions", response={200: DiffOut, **errors(404, 422)})
def diff_revisions(request: HttpRequest, draft_id: int, a: int, b: int):
    """Word-level diff between two revisions of the draft."""
    api_scope_required(request, "read")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id)
    old = selectors.revision_get_for_draft(draft=draft, pk=a)
    new = selectors.revision_get_for_draft(draft=draft, pk=b)
    diff = word_diff(old.content, new.content)
    return {"a": old.pk, "b": new.pk, "words_added": diff.words_added, "words_removed": diff.words_removed,
            "ops": [(op.op, op.text) for op in diff.ops]}


@router.post(
    "/drafts/{draft_id}/revisions", operation_id="createRevision",
    response={201: RevisionCreatedOut, 409: ConflictOut, **errors(404, 422)},
)
def create_revision(request: HttpRequest, draft_id: int, payload: RevisionIn):
    """A person's revision, based on `base_revision`. When someone saved a newer revision meanwhile
    the answer is 409 with that revision, so the client can merge and send again; nothing is saved."""
    api_scope_required(request, "write")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id, action="edit")
    try:
        revision = editing.draft_edit(draft=draft, user=request.user, content=payload.content,
                                       base_revision_id=payload.base_revision, note=payload.note)
    except editing.EditConflict as exc:
        return Status(409, {
            "detail": str(exc),
            "current_revision": revision_out(exc.current) if exc.current is not None else None,
        })
    draft.refresh_from_db(fields=["status"])
    return Status(201, {
        **revision_out(revision),
        "findings": list(revision.findings.values(*FINDING_FIELDS)),
        "draft_status": draft.status,
    })


# --- the review queue -------------------------------------------------------------------------------

@router.get("/queue", operation_id="listQueue", response={200: QueuePage, **errors(422)})
def queue(
    request: HttpRequest, filters: Query[QueueFilters], cursor: str | None = cursor_param(), limit: int = limit_param(),
):
    """The review desk: drafts of your brands, newest first, filtered, a page at a time. The filters are
    the desk's own (the same selector): age is the time waiting in the current status, `q` searches
    titles and current texts (PostgreSQL full-text, English), `assignee=none` means nobody."""
    api_scope_required(request, "read")
    selection = selectors.queue_select(user=request.user, tab="all", filters=selectors.QueueFilters(
        status=filters.status or "", channel=filters.channel or "", risk=filters.risk or "",
        template=filters.template or "", brand=filters.brand or "", assignee=filters.assignee or "",
        older_than_hours=filters.older_than_hours, newer_than_hours=filters.newer_than_hours,
        q=" ".join((filters.q or "").split()),
    ))
    drafts = selection.drafts.select_related("brief__template", "brief__requested_by", "brand", "assignee")
    page, next_cursor = paginate(drafts, cursor=cursor, limit=limit)
    items = [
        {
            "id": d.pk, "title": d.title, "status": d.status, "brand": d.brand.slug, "channel": d.brief.channel,
            "risk": d.brief.risk, "template": d.brief.template.slug,
            "assignee": d.assignee.username if d.assignee else None,
            "requested_by": d.brief.requested_by.username, "current_revision_id": d.current_revision_id,
            "publish_at": d.publish_at, "created_at": d.created_at, "status_changed_at": d.status_changed_at,
        }
        for d in page
    ]
    return {"items": items, "next_cursor": next_cursor}
