"""Permission policies. The only module that talks to django-guardian.

Brand membership is an object permission (`governance.work_on_brand`) on a Brand; what a member
may do inside a brand comes from the model permissions of their role groups.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from guardian.shortcuts import assign_perm, get_objects_for_user, get_users_with_perms, remove_perm

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


def brand_members(brands: list[Brand]) -> list[Any]:
    """Active people who may work on any of `brands` (to assign items to), by name: one query."""
    if not brands:
        return []
    members = Q()
    for brand in brands:
        members |= Q(pk__in=get_users_with_perms(brand, only_with_perms_in=["work_on_brand"]).values("pk"))
    return list(get_user_model().objects.filter(members, is_active=True).order_by("first_name", "username"))


def brand_member_add(*, brand: Brand, user: Any) -> None:
    assign_perm(MEMBERSHIP, user, brand)


def brand_member_remove(*, brand: Brand, user: Any) -> None:
    remove_perm(MEMBERSHIP, user, brand)


def role_grant(*, name: str, perms: list[str] | tuple[str, ...]) -> Group:
    """The role (a Django group) called `name`, made if missing, holding these "app_label.codename"
    permissions besides any it had."""
    group, _ = Group.objects.get_or_create(name=name)
    for dotted in perms:
        app_label, codename = dotted.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group


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


def error_text(exc: ValidationError | PermissionDenied) -> str:
    """What a page tells the person when a policy (PermissionDenied) or a service's checks
    (ValidationError) refused their action."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "You are not allowed to do that."


def api_scope_required(request: Any, scope: str) -> None:
    """API routes name the scope they need. A request authenticated with an API token must carry it
    ("admin" carries all); a browser session acts with the person's own permissions, so it passes."""
    token = getattr(request, "api_token", None)
    if token is None:
        return
    if scope not in token.scopes and "admin" not in token.scopes:
        raise PermissionDenied(f"This token lacks the “{scope}” scope.")


def user_has_model_or_object_perm(user: Any, perm: str, obj: Any) -> bool:
    """`perm` held for every object of its model (through a role group) or on this one object
    (a django-guardian object permission), e.g. `agents.activate_modelversion` on one version."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return user.has_perm(perm) or user.has_perm(perm, obj)
