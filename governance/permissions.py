"""Permission policies. The only module that talks to django-guardian.

Brand membership is an object permission (`governance.work_on_brand`) on a Brand; what a member
may do inside a brand comes from the model permissions of their role groups.
"""
from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from governance.models import Brand, Gate

MEMBERSHIP = "governance.work_on_brand"

# action -> model permission a brand member also needs for it
DRAFT_ACTIONS: dict[str, str | None] = {
    "view": None,
    "edit": "editorial.add_revision",
    "publish": "governance.add_delivery",
    "retry": "editorial.add_revision",
}


def brands_for_user(user: Any) -> QuerySet[Brand]:
    if not user or not user.is_authenticated or not user.is_active:
        return Brand.objects.none()
    if user.is_superuser:
        return Brand.objects.all()
    return get_objects_for_user(user, MEMBERSHIP, klass=Brand, accept_global_perms=False)


def brand_member_add(*, brand: Brand, user: Any) -> None:
    assign_perm(MEMBERSHIP, user, brand)


def brand_member_remove(*, brand: Brand, user: Any) -> None:
    remove_perm(MEMBERSHIP, user, brand)


class DraftPolicy:
    """Who may do what with a draft (and so with its brief, revisions, runs and deliveries)."""

    def instances_user_has_permission_for(self, user: Any, action: str, queryset: QuerySet) -> QuerySet:
        if action not in DRAFT_ACTIONS:
            raise ValueError(f"unknown draft action {action!r}")
        perm = DRAFT_ACTIONS[action]
        if not user or not user.is_authenticated or (perm and not user.has_perm(perm)):
            return queryset.none()
        if user.is_superuser:
            return queryset
        return queryset.filter(brand__in=brands_for_user(user))

    def user_has_permission_for_instance(self, user: Any, action: str, draft: Any) -> bool:
        if action not in DRAFT_ACTIONS:
            raise ValueError(f"unknown draft action {action!r}")
        if not user or not user.is_authenticated or not user.is_active:
            return False
        perm = DRAFT_ACTIONS[action]
        if perm and not user.has_perm(perm):
            return False
        return user.is_superuser or user.has_perm(MEMBERSHIP, draft.brand)


class GatePolicy:
    def user_can_sign(self, user: Any, gate: Gate, draft: Any) -> bool:
        if not draft_policy.user_has_permission_for_instance(user, "view", draft):
            return False
        return user.groups.filter(pk=gate.group_id).exists()


class KnowledgePolicy:
    """Who may see or change a brand's knowledge base: brand members; changing it (upload, expire,
    delete) also takes the model permission `agents.add_knowledgedocument`."""

    ACTIONS: dict[str, str | None] = {"view": None, "manage": "agents.add_knowledgedocument"}

    def user_has_permission_for_brand(self, user: Any, action: str, brand: Brand) -> bool:
        if action not in self.ACTIONS:
            raise ValueError(f"unknown knowledge action {action!r}")
        if not user or not user.is_authenticated or not user.is_active:
            return False
        perm = self.ACTIONS[action]
        if perm and not user.has_perm(perm):
            return False
        return user.is_superuser or user.has_perm(MEMBERSHIP, brand)


draft_policy = DraftPolicy()
gate_policy = GatePolicy()
knowledge_policy = KnowledgePolicy()


def api_scope_required(request: Any, scope: str) -> None:
    """API routes name the scope they need. A request authenticated with an API token must carry it
    ("admin" carries all); a browser session acts with the person's own permissions, so it passes."""
    token = getattr(request, "api_token", None)
    if token is None:
        return
    if scope not in token.scopes and "admin" not in token.scopes:
        raise PermissionDenied(f"This token lacks the “{scope}” scope.")
