"""Celery tasks of campaigns: thin, they take ids and call one service."""
from __future__ import annotations

from aios.celery import app
from editorial.campaigns.models import Campaign
from editorial.campaigns.services import VARIANTS_START_TASK, campaign_variants_start


@app.task(name=VARIANTS_START_TASK, acks_late=True, ignore_result=True)
def variants_start(campaign_id: int) -> None:
    """The master was approved: write the variants (existing cells are kept, so a rerun is harmless)."""
    campaign = Campaign.objects.filter(pk=campaign_id).select_related("created_by").first()
    if campaign is not None:
        campaign_variants_start(campaign=campaign, user=campaign.created_by)
