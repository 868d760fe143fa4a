"""Reads of campaigns and variants that check access (views and the API go through these)."""
from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from editorial.campaigns.models import Campaign, Experiment, Variant
from editorial.selectors import draft_get_for_user
from governance.permissions import brands_for_user


def campaigns_for_user(*, user: Any) -> QuerySet[Campaign]:
    return Campaign.objects.filter(brand__in=brands_for_user(user)).select_related("brand", "master")


def campaign_get_for_user(*, user: Any, pk: int) -> Campaign:
    campaign = campaigns_for_user(user=user).filter(pk=pk).first()
    if campaign is None:
        raise Http404("No such campaign.")
    return campaign


def variant_get_for_user(*, user: Any, pk: int, action: str = "view") -> Variant:
    """The variant, when the user may `action` its draft (the draft's own policy decides)."""
    variant = Variant.objects.select_related("campaign", "segment", "segment_version", "master", "draft",
                                             "master_revision").filter(pk=pk).first()
    if variant is None:
        raise Http404("No such variant.")
    draft_get_for_user(user=user, pk=variant.draft_id, action=action)
    return variant


def experiment_get_for_user(*, user: Any, pk: int) -> Experiment:
    experiment = Experiment.objects.select_related("campaign", "winner").filter(
        pk=pk, campaign__brand__in=brands_for_user(user)).first()
    if experiment is None:
        raise Http404("No such experiment.")
    return experiment
