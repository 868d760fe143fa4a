"""/api/v1 routes of campaigns: a campaign's grid (every variant's state) and an experiment's results;
the same selectors as the pages."""
from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import Router, Schema

from editorial.campaigns import selectors
from editorial.campaigns.experiments import experiment_results
from editorial.schemas import PathId, errors
from governance.permissions import api_scope_required

router = Router(tags=["campaigns"])


class VariantOut(Schema):
    id: int
    segment: str
    segment_version: int
    channel: str
    arm: str
    draft_id: int
    status: str
    master_revision_id: int | None


class CampaignOut(Schema):
    id: int
    name: str
    brand: str
    mode: str
    channels: list[str]
    master_draft_id: int
    master_status: str
    variants: list[VariantOut]


class ArmOut(Schema):
    variant_id: int
    share: int
    impressions: int
    clicks: int
    conversions: int
    rate: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    uplift: float | None
    p_value: float | None


class ResultsOut(Schema):
    id: int
    status: str
    winner_variant_id: int | None
    metric: str
    arms: list[ArmOut]
    warnings: list[str]


@router.get("/campaigns/{campaign_id}", operation_id="getCampaign", response={200: CampaignOut, **errors(404)})
def get_campaign(request: HttpRequest, campaign_id: PathId):
    """The campaign, its master and every variant's state (segment × channel × arm)."""
    api_scope_required(request, "read")
    campaign = selectors.campaign_get_for_user(user=request.user, pk=campaign_id)
    variants = campaign.variants.select_related("segment", "segment_version", "draft")
    return {
        "id": campaign.pk, "name": campaign.name, "brand": campaign.brand.slug, "mode": campaign.mode,
        "channels": campaign.channels, "master_draft_id": campaign.master_id, "master_status": campaign.master.status,
        "variants": [{
            "id": v.pk, "segment": v.segment.name, "segment_version": v.segment_version.number, "channel": v.channel,
            "arm": v.arm, "draft_id": v.draft_id, "status": v.draft.status, "master_revision_id": v.master_revision_id,
        } for v in variants],
    }


@router.get("/experiments/{experiment_id}/results", operation_id="getExperimentResults",
            response={200: ResultsOut, **errors(404, 422)})
def get_experiment_results(request: HttpRequest, experiment_id: PathId,
                           metric: Literal["conversions", "clicks"] = "conversions"):
    """Rates per variant (conversions or clicks per impression) and, against the first, the difference
    with its 95% interval, the relative uplift and the p-value; warnings while the sample is too small."""
    api_scope_required(request, "read")
    experiment = selectors.experiment_get_for_user(user=request.user, pk=experiment_id)
    results = experiment_results(experiment, metric=metric)
    return {
        "id": experiment.pk, "status": experiment.status, "winner_variant_id": experiment.winner_id,
        "metric": results.metric, "warnings": results.warnings,
        "arms": [{"variant_id": r.arm.variant_id, "share": r.arm.share, "impressions": r.impressions,
                  "clicks": r.clicks, "conversions": r.conversions, "rate": r.rate, "diff": r.diff,
                  "ci_low": r.ci_low, "ci_high": r.ci_high, "uplift": r.uplift, "p_value": r.p_value}
                 for r in results.arms],
    }
