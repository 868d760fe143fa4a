"""Reads of batches that check access: a brand's members see its batches; acting on one needs the
right to file briefs for that brand."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from editorial.batches.models import Batch
from governance.permissions import brands_for_user


def batches_for_user(*, user: Any) -> QuerySet[Batch]:
    return Batch.objects.filter(brand__in=brands_for_user(user)).select_related("brand", "template", "created_by")


def batch_get_for_user(*, user: Any, pk: int, action: str = "view") -> Batch:
    """404 when the user is not a member of the batch's brand; 403 when they may see it but not act."""
    batch = batches_for_user(user=user).filter(pk=pk).first()
    if batch is None:
        raise Http404("No such batch.")
    if action != "view" and not user.has_perm("editorial.add_brief"):
        raise PermissionDenied("Your role cannot file briefs, so it cannot run batches.")
    return batch
