"""Who is reviewing what (the desk queue): claiming, assigning and releasing an item."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from editorial.models import Draft
from editorial.notifications import notify_assigned
from editorial.realtime import push_queue_event
from governance.audit import audit_log
from governance.models import Gate
from governance.permissions import draft_policy


class AlreadyClaimed(Exception):
    """Someone else is reviewing the item; claiming it anyway needs `force=True` (the person confirmed)."""

    def __init__(self, draft: Draft, assignee: Any) -> None:
        super().__init__(f"{_name(assignee)} is already reviewing “{draft.title}”.")
        self.draft = draft
        self.assignee = assignee


def _name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "nobody"


def may_review(user: Any, draft: Draft) -> bool:
    """Brand members who can edit the draft or sign one of its workflow's gates."""
    if not draft_policy.user_has_permission_for_instance(user, "view", draft):
        return False
    if draft_policy.user_has_permission_for_instance(user, "edit", draft):
        return True
    return draft.workflow_id is not None and Gate.objects.filter(
        stage__workflow_id=draft.workflow_id, group__in=user.groups.all()
    ).exists()


def _assignee_set(*, draft: Draft, actor: Any, assignee: Any, action: str) -> Draft:
    """Write the new assignee, audit it in the same transaction, and nudge the brand's queues on commit."""
    old = draft.assignee
    draft.assignee = assignee
    draft.save(update_fields=["assignee"])
    audit_log(
        action=action, obj=draft, user=actor,
        data={"assignee": [old.get_username() if old else None, assignee.get_username() if assignee else None]},
    )
    brand_id, pk = draft.brand_id, draft.pk
    event = {"kind": "assignee", "draft": pk, "assignee": assignee.get_username() if assignee else None}
    transaction.on_commit(lambda: push_queue_event(brand_id, event))
    return draft


def _lock(draft: Draft) -> Draft:
    return Draft.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=draft.pk)


@transaction.atomic
def draft_claim(*, draft: Draft, user: Any, force: bool = False) -> Draft:
    """Mark the item as being reviewed by `user`. Taking over someone else's claim needs `force`."""
    if not may_review(user, draft):
        raise PermissionDenied("Only members of this brand who edit or sign can claim it.")
    draft = _lock(draft)
    if draft.assignee_id == user.pk:
        return draft
    if draft.assignee_id is not None and not force:
        raise AlreadyClaimed(draft, draft.assignee)
    return _assignee_set(draft=draft, actor=user, assignee=user, action="editorial.draft.claim")


@transaction.atomic
def draft_assign(*, draft: Draft, user: Any, assignee: Any) -> Draft:
    """Hand the item to `assignee`, who must be a member of its brand."""
    if not may_review(user, draft):
        raise PermissionDenied("Only members of this brand who edit or sign can assign it.")
    # Someone who may not see the draft gets the same answer as an unknown name: other brands'
    # people are not revealed.
    if assignee is None or not assignee.is_active or \
            not draft_policy.user_has_permission_for_instance(assignee, "view", draft):
        raise ValidationError({"assignee": "Choose who to assign it to."})
    draft = _lock(draft)
    if draft.assignee_id == assignee.pk:
        return draft
    draft = _assignee_set(draft=draft, actor=user, assignee=assignee, action="editorial.draft.assign")
    notify_assigned(draft=draft, actor=user, assignee=assignee)
    return draft


@transaction.atomic
def draft_unassign(*, draft: Draft, user: Any) -> Draft:
    """Nobody is reviewing the item any more."""
    if not may_review(user, draft):
        raise PermissionDenied("Only members of this brand who edit or sign can release it.")
    draft = _lock(draft)
    if draft.assignee_id is None:
        return draft
    return _assignee_set(draft=draft, actor=user, assignee=None, action="editorial.draft.unassign")
