"""A campaign world for the tests: segments, a campaign whose master is in review, and helpers that do
what the pipeline does (a revision with the policy's findings, then "in review")."""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission

from agents.models import AgentRun
from editorial.campaigns.models import Campaign, Segment, Variant
from editorial.campaigns.segments import segment_save
from editorial.campaigns.services import campaign_create, campaign_variants_start
from editorial.models import Draft
from editorial.revisions import revision_create
from governance.models import Gate
from governance.policies import evaluate, findings_record, rule_set_version_for
from governance.gates import unresolved_blocking_findings
from governance.signoffs import finding_override, signoff_record
from tests.factories import World

MASTER = (
    "## Part 1\n\nOur autumn roast is back. It tastes like a crisp October morning.\n\n"
    "## Part 2\n\nWe buy the beans from two farms. Order today in any of our shops."
)


def grant(world: World) -> None:
    """Editors (eddie, and otto of the other brand) start campaigns and experiments; they lead segments."""
    editors = Group.objects.get(name="editors")
    for app_label, codename in (("campaigns", "add_campaign"), ("campaigns", "add_experiment"),
                                ("campaigns", "change_segment"), ("governance", "override_finding")):
        editors.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    for user in (world.requester, world.editor, world.brand_reviewer, world.legal, world.outsider):
        for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
            user.__dict__.pop(cache, None)


def segments(world: World) -> list[Segment]:
    students = segment_save(user=world.editor, brand=world.brand, name="Students", description="On a budget",
                            traits=["short on time", "price-minded"], language="en",
                            channels=["blog", "newsletter"])
    families = segment_save(user=world.editor, brand=world.brand, name="Families",
                            traits=["weekend breakfasts"], language="en")
    return [students.segment, families.segment]


def written(draft: Draft, content: str) -> Draft:
    """What the check step leaves: a revision with its policy findings, the draft in review."""
    run = AgentRun.objects.create(draft=draft, kind=AgentRun.Kind.WRITE, status=AgentRun.Status.SUCCEEDED,
                                  idempotency_key=f"test:{draft.pk}:write:{draft.revisions.count()}")
    revision = revision_create(draft=draft, content=content, author_run=run, provenance={"model": "test-model"})
    version = rule_set_version_for(draft.brand)
    findings_record(revision=revision, run=run, version=version,
                    findings=evaluate(content, channel=draft.brief.channel, version=version))
    Draft.objects.filter(pk=draft.pk).update(status=Draft.Status.IN_REVIEW)
    draft.refresh_from_db()
    return draft


@dataclass
class CampaignWorld:
    world: World
    campaign: Campaign
    segments: list[Segment]


def campaign_world(world: World, *, mode: str = Campaign.Mode.AFTER_APPROVAL, arms: int = 1,
                   channels: tuple[str, ...] = ("blog",)) -> CampaignWorld:
    grant(world)
    segs = segments(world)
    campaign = campaign_create(
        user=world.editor, brand=world.brand, name="Autumn roast", title="Autumn roast", goal="Announce the roast",
        audience="everyone", channel="blog", tone="warm", risk="low", template=world.template, segments=segs,
        channels=list(channels), mode=mode, arms=arms,
    )
    return CampaignWorld(world, campaign, segs)


def override_blocking(draft: Draft, user) -> None:
    for finding in unresolved_blocking_findings(draft):
        finding_override(finding=finding, user=user, justification="Checked with legal: fine here.")


def approve_master(cw: CampaignWorld, content: str = MASTER) -> Draft:
    master = written(cw.campaign.master, content)
    override_blocking(master, cw.world.editor)
    signoff_record(draft=master, gate=cw.world.gates["editorial"], user=cw.world.editor, decision="approve",
                   revision_id=master.current_revision_id)
    master.refresh_from_db()
    return master


def variants_written(cw: CampaignWorld, texts: dict[str, str]) -> list[Variant]:
    """Start the variants from the approved master and write each segment's text."""
    campaign_variants_start(campaign=cw.campaign, user=cw.world.editor)
    variants = list(cw.campaign.variants.select_related("segment", "draft"))
    for v in variants:
        written(v.draft, texts[v.segment.name])
    return variants


def editorial_gate(world: World) -> Gate:
    return world.gates["editorial"]
