"""/api/v1 drafts: a draft with its current revision, a diff of two revisions, a person's new revision."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from ninja import Router, Status

from editorial import editing, selectors
from editorial.attribution import attribution_for, disclosure_block
from editorial.diffs import word_diff
from editorial.models import Draft, Revision
from editorial.schemas import ConflictOut, DiffOut, DraftOut, RevisionCreatedOut, RevisionIn, errors
from editorial.sourceflags import open_flags
from governance.gates import gate_states
from governance.permissions import api_scope_required
from governance.publishing.policy import publish_problem
from governance.signoffs import approving_policy

router = Router(tags=["editorial"])


def revision_out(revision: Revision) -> dict[str, Any]:
    return {
        "id": revision.pk, "number": revision.number, "parent_id": revision.parent_id,
        "author": revision.author_label, "content": revision.content, "content_hash": revision.content_hash,
        "provenance": revision.provenance, "note": revision.note, "created_at": revision.created_at,
    }


FINDING_FIELDS = ("category", "severity", "start", "end", "text", "message", "details")


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
        "sections": selectors.section_quality(draft),
        "runs": list(draft.runs.order_by("id").values(
            "id", "kind", "status", "attempt_count", "error", "tokens_in", "tokens_out", "latency_ms")),
        "manifest_url": request.build_absolute_uri(reverse("governance:manifest", kwargs={"pk": draft.pk}))
        if has_manifest else None,
        "ai_disclosure": disclosure_block(attribution_for(current)) if current else None,
        "sources_changed": open_flags(draft).count(),
        "approved_by_policy": approving_policy(draft) or None,
        "publish_problem": (publish_problem(draft) or {}).get("reason") or None,
    }



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
