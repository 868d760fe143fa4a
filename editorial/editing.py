"""A person's edits: a new revision based on the one they opened, and restoring an earlier one."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from editorial.models import Draft, Revision
from editorial.revisions import person_revision_followup, revision_create
from governance.audit import audit_log
from governance.permissions import draft_policy

MAX_CONTENT_CHARS = 200_000


class EditConflict(Exception):
    def __init__(self, current: Revision, message: str = "Someone saved a newer revision while you were editing.") -> None:
        super().__init__(message)
        self.current = current


class EditAlreadySaved(EditConflict):
    """The same edit again (a double submit, a retried request): the current revision was made from
    the same base with the same text. Nothing more is saved; to an API client it is still a conflict."""

    def __init__(self, current: Revision) -> None:
        super().__init__(current, f"This text was already saved as revision {current.number}; nothing more was saved.")


# A published or retracted piece can be edited: the new revision goes through review, and publishing
# it again sends an "updated" (or, after a retraction, a new "published") event.
EDITABLE = {Draft.Status.IN_REVIEW, Draft.Status.CHANGES_REQUESTED, Draft.Status.APPROVED, Draft.Status.PUBLISHED,
            Draft.Status.RETRACTED}


def _check_editable(draft: Draft) -> None:
    if draft.status not in EDITABLE:
        raise ValidationError(f"A draft that is “{draft.get_status_display()}” cannot be edited.")


@transaction.atomic
def draft_edit(*, draft: Draft, user: Any, content: str, base_revision_id: int, note: str = "") -> Revision:
    """A person's edit: a new revision based on the one they opened, never over a newer one."""
    if not draft_policy.user_has_permission_for_instance(user, "edit", draft):
        raise PermissionDenied("You cannot edit this draft.")
    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    content = content.replace("\r\n", "\n").strip()
    if not content:
        raise ValidationError({"content": "The text is empty; nothing was saved."})
    if len(content) > MAX_CONTENT_CHARS:
        raise ValidationError({"content": f"The text is longer than {MAX_CONTENT_CHARS:,} characters."})
    _check_editable(draft)
    current = draft.current_revision
    if current is not None and current.pk != base_revision_id and current.parent_id == base_revision_id \
            and current.content == content:
        raise EditAlreadySaved(current)
    if current is None or current.pk != base_revision_id:
        raise EditConflict(current)
    if content == current.content:
        raise ValidationError({"content": "Nothing changed; no revision was saved."})
    revision = revision_create(draft=draft, content=content, author_user=user, parent=current, note=note)
    person_revision_followup(draft=draft, revision=revision, user=user)
    return revision


@transaction.atomic
def revision_restore(*, draft: Draft, user: Any, revision_id: int, note: str = "") -> Revision:
    """Bring back an earlier revision's text as a NEW revision on top of the current one; nothing
    is overwritten, and the restored text goes through the checks and gates like an edit."""
    if not draft_policy.user_has_permission_for_instance(user, "edit", draft):
        raise PermissionDenied("You cannot edit this draft.")
    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    source = Revision.objects.filter(pk=revision_id, draft=draft).first()
    if source is None:
        raise ValidationError("That revision does not belong to this draft; nothing was restored.")
    _check_editable(draft)
    current = draft.current_revision
    if current is None:
        raise ValidationError("This draft has no revision yet; nothing was restored.")
    if source.pk == current.pk:
        raise ValidationError(f"r{source.number} is already the current revision; nothing was restored.")
    if source.content == current.content:
        raise ValidationError(
            f"r{source.number} has the same text as the current revision r{current.number}; nothing was restored."
        )
    label = f"Restored from r{source.number}"
    revision = revision_create(
        draft=draft,
        content=source.content,
        author_user=user,
        parent=current,
        provenance={"restored_from": {"revision": source.pk, "number": source.number}},
        note=f"{label}: {note.strip()}"[:300] if note.strip() else label,
    )
    audit_log(
        action="editorial.revision.restore",
        obj=revision,
        user=user,
        data={"draft": draft.pk, "restored_from": source.number, "old": current.number, "new": revision.number},
    )
    person_revision_followup(draft=draft, revision=revision, user=user)
    return revision
