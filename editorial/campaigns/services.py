"""Campaigns: filing one (its master brief through editorial/briefs.py), writing its variants (one
brief per segment × channel × arm, through the same service, from the approved master by default),
and the grid's bulk decisions (through the desk's bulk sign-off)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from agents.models import KnowledgeDocument, PromptTemplate
from editorial.briefs import brief_create
from editorial.campaigns.inheritance import variant_settle
from editorial.campaigns.models import ARM_LABELS, Campaign, Segment, Variant
from editorial.models import Draft
from governance.audit import audit_log
from governance.models import Brand, Channel
from governance.permissions import brands_for_user
from governance.signoffs import signoffs_bulk

CREATE_PERM = "campaigns.add_campaign"
VARIANTS_START_TASK = "campaigns.variants_start"  # enqueued by name (editorial/campaigns/tasks.py)
MAX_CELLS = 60  # segments × channels × arms: beyond this, file it as bulk briefs
APPROVED = (Draft.Status.APPROVED, Draft.Status.PUBLISHED)


def user_can_create_campaigns(user: Any, brand: Brand) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or (
        user.has_perm(CREATE_PERM) and brands_for_user(user).filter(pk=brand.pk).exists()
    )


@transaction.atomic
def campaign_create(
    *, user: Any, brand: Brand, name: str, title: str, goal: str, audience: str, channel: str, tone: str,
    risk: str, template: PromptTemplate, segments: list[Segment], channels: list[str],
    mode: str = Campaign.Mode.AFTER_APPROVAL, arms: int = 1, sources: list[KnowledgeDocument] | None = None,
    language: str = "en",
) -> Campaign:
    """File the master brief and the campaign; in parallel mode the variants start at once, otherwise
    when the master is approved (editorial.campaigns.hooks)."""
    if not user_can_create_campaigns(user, brand):
        raise PermissionDenied("You cannot start campaigns for this brand.")
    if not name.strip():
        raise ValidationError({"name": "Give the campaign a name."})
    if not segments:
        raise ValidationError({"segments": "Choose at least one audience segment."})
    if any(s.brand_id != brand.pk for s in segments):
        raise ValidationError({"segments": "Segments must belong to the campaign's brand."})
    if any(s.active_version_id is None for s in segments):
        raise ValidationError({"segments": "Every segment needs a saved version."})
    channels = list(dict.fromkeys(channels))
    if not channels or any(c not in Channel.values for c in channels):
        raise ValidationError({"channels": f"Choose channels among: {', '.join(Channel.values)}."})
    if mode not in Campaign.Mode.values:
        raise ValidationError({"mode": "Choose when the variants are written."})
    if not 1 <= arms <= len(ARM_LABELS):
        raise ValidationError({"arms": f"Write between 1 and {len(ARM_LABELS)} variants per segment and channel."})
    if len(segments) * len(channels) * arms > MAX_CELLS:
        raise ValidationError(f"At most {MAX_CELLS} variants per campaign; file larger runs as bulk briefs.")
    master = brief_create(user=user, brand=brand, title=title, goal=goal, audience=audience, channel=channel,
                          tone=tone, risk=risk, template=template, sources=sources, language=language)
    campaign = Campaign.objects.create(brand=brand, name=name.strip(), master=master, channels=channels, mode=mode,
                                       arms=arms, created_by=user)
    campaign.segments.set(segments)
    audit_log(action="campaigns.campaign.create", obj=campaign, user=user, data={
        "master": master.pk, "segments": [s.pk for s in segments], "channels": channels, "mode": mode, "arms": arms,
    })
    if mode == Campaign.Mode.PARALLEL:
        campaign_variants_start(campaign=campaign, user=user)
    return campaign


def variant_title(master_title: str, segment: Segment, arm: str, arms: int) -> str:
    suffix = f" — {segment.name}" + (f" ({arm})" if arms > 1 else "")
    return master_title[: 200 - len(suffix)] + suffix


def campaign_cells(campaign: Campaign, segment: Segment) -> list[str]:
    """The campaign's channels this segment takes: all of them, or those among its preferred channels."""
    preferred = segment.active_version.channels if segment.active_version else []
    return [c for c in campaign.channels if not preferred or c in preferred]


@transaction.atomic
def campaign_variants_start(*, campaign: Campaign, user: Any) -> list[Variant]:
    """File one brief per missing segment × channel × arm, written from the master's approved text
    (or alongside the master in parallel mode). Safe to call twice: existing cells are kept."""
    campaign = Campaign.objects.select_for_update().select_related("master__brief").get(pk=campaign.pk)
    master = campaign.master
    approved = master.status in APPROVED
    if campaign.mode == Campaign.Mode.AFTER_APPROVAL and not approved:
        raise ValidationError("The variants are written from the approved master; approve the master first.")
    master_revision = (master.published_revision or master.current_revision) if approved else None
    brief = master.brief
    existing = set(campaign.variants.values_list("segment_id", "channel", "arm"))
    created: list[Variant] = []
    for segment in campaign.segments.select_related("active_version").order_by("name"):
        version = segment.active_version
        for channel in campaign_cells(campaign, segment):
            for arm in ARM_LABELS[: campaign.arms]:
                if (segment.pk, channel, arm) in existing:
                    continue
                draft = brief_create(
                    user=user, brand=campaign.brand, title=variant_title(master.title, segment, arm, campaign.arms),
                    goal=brief.goal, audience=segment.name, channel=channel, tone=brief.tone, risk=brief.risk,
                    template=brief.template, sources=list(brief.sources.all()), language=version.language,
                )
                created.append(Variant.objects.create(
                    campaign=campaign, segment=segment, segment_version=version, channel=channel, arm=arm,
                    master=master, master_revision=master_revision, draft=draft,
                ))
    if created:
        campaign.variants_started_at = campaign.variants_started_at or timezone.now()
        campaign.save(update_fields=["variants_started_at"])
        audit_log(action="campaigns.variants.start", obj=campaign, user=user, data={
            "variants": [v.pk for v in created], "master_revision": master_revision.pk if master_revision else None,
        })
    return created


@dataclass
class BulkOutcome:
    variant: Variant
    done: bool
    message: str


def campaign_bulk_decide(
    *, campaign: Campaign, user: Any, variant_ids: list[int], decision: str, comment: str = ""
) -> list[BulkOutcome]:
    """Approve or send back the chosen variants, each through the desk's bulk sign-off (its own
    transaction: one refusal does not undo the others); every outcome says what happened."""
    if decision not in ("approve", "request_changes"):
        raise ValidationError("Choose approve or send back.")
    if decision == "request_changes" and not comment.strip():
        raise ValidationError({"comment": "Say why: a reason is required to send variants back."})
    variants = list(campaign.variants.filter(pk__in=variant_ids).select_related("draft", "segment"))
    if not variants:
        raise ValidationError("Tick at least one variant of this campaign.")
    outcomes = []
    for variant in variants:
        if decision == "approve" and variant_settle(draft_id=variant.draft_id):
            outcomes.append(BulkOutcome(variant, True, "every gate inherited from the master"))
            continue
        try:
            signoffs = signoffs_bulk(draft=variant.draft, user=user, decision=decision, comment=comment)
        except (PermissionDenied, ValidationError) as exc:
            text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            outcomes.append(BulkOutcome(variant, False, text))
        else:
            outcomes.append(BulkOutcome(variant, True, ", ".join(s.gate.name for s in signoffs)))
    return outcomes
