"""Drafts whose sources changed (editorial/sourceflags.py) in the desk: the queue filter, the marker,
and the action that sends such a draft back to review."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q

from editorial.models import Draft, Revision, SourceChange
from editorial.revisions import REVIEW_RESET_STATUSES, revision_review_reset
from editorial.sourceflags import open_flags
from governance.permissions import draft_policy


def sources_changed() -> Q:
    """Drafts with a "sources changed" flag not yet cleared by an approval."""
    return Q(Exists(SourceChange.objects.filter(draft=OuterRef("pk"), cleared_at__isnull=True)))


def open_flag_counts(draft_ids: list[int]) -> dict[int, int]:
    """Open flags per draft, for the queue's marker (one query)."""
    return dict(SourceChange.objects.filter(draft_id__in=draft_ids, cleared_at__isnull=True)
                .values("draft_id").annotate(n=Count("id")).values_list("draft_id", "n"))


@transaction.atomic
def draft_sources_send_back(*, draft: Draft, user: Any) -> Revision:
    """Send a draft whose sources changed back to review (a review reset: earlier sign-offs stop
    counting), audited through draft_transition. Its flags clear when it is approved again."""
    if not draft_policy.user_has_permission_for_instance(user, "edit", draft):
        raise PermissionDenied("You cannot send this draft back to review.")
    # Lock order: the draft row first, then the audit chain (revision_create and audit_log below).
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief", "brand", "current_revision") \
        .get(pk=draft.pk)
    flags = list(open_flags(draft))
    if not flags:
        raise ValidationError("None of this draft's sources changed since it was last approved; nothing was changed.")
    if draft.status == Draft.Status.CHANGES_REQUESTED:
        raise ValidationError("Changes were already requested; its next revision goes through review anyway.")
    if draft.status not in REVIEW_RESET_STATUSES or draft.current_revision_id is None:
        raise ValidationError(f"A draft that is “{draft.get_status_display()}” cannot be sent back to review.")
    changes = {(f.document_id, f.document_title, f.kind) for f in flags}
    named = ", ".join(f"“{title}” ({SourceChange.Kind(kind).label.lower()})" for _, title, kind in sorted(
        changes, key=lambda c: c[1]))
    why = f"Sent back to review: {'a source' if len(changes) == 1 else 'sources'} it rests on changed: {named}."
    return revision_review_reset(
        draft=draft, user=user, why=why[:2000], action="editorial.sources.send_back",
        reset={"sources": [{"document_id": d, "title": t, "kind": k} for d, t, k in sorted(changes, key=str)]},
        data={"flags": [f.pk for f in flags]},
    )
