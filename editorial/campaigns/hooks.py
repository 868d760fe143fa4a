"""Where campaigns plug into the lower layers, which offer hooks and never import this app."""
from __future__ import annotations

from typing import Any

from django.db import transaction

from agents.pipeline.prompts import section_framing_hook_register
from aios.celery import app
from editorial.campaigns.framing import WORDING, variant_section_framing
from editorial.campaigns.inheritance import variant_gate_inheritance, variant_settle
from editorial.campaigns.models import Campaign, ExperimentArm, Variant
from editorial.campaigns.services import VARIANTS_START_TASK
from editorial.models import Draft, Revision
from editorial.transitions import status_hook_register
from governance.gates import gate_state_hook_register
from governance.provenance import manifest_hook_register
from governance.publishing.delivery import payload_hook_register


def status_changed(draft: Draft, old: str, new: str) -> None:
    """A variant reaching review may already be settled by its master's sign-offs; a master approved
    starts its variants (on commit, by a worker) and may settle the variants waiting for it."""
    if new == Draft.Status.IN_REVIEW and Variant.objects.filter(draft_id=draft.pk).exists():
        transaction.on_commit(lambda: variant_settle(draft_id=draft.pk), robust=True)
    if new != Draft.Status.APPROVED or old in (Draft.Status.APPROVED, Draft.Status.PUBLISHED):
        return
    waiting = list(Variant.objects.filter(master_id=draft.pk, draft__status=Draft.Status.IN_REVIEW)
                   .values_list("draft_id", flat=True))
    if waiting:
        transaction.on_commit(lambda: [variant_settle(draft_id=pk) for pk in waiting], robust=True)
    campaign_id = (Campaign.objects.filter(master_id=draft.pk, mode=Campaign.Mode.AFTER_APPROVAL,
                                           variants_started_at__isnull=True).values_list("pk", flat=True).first())
    if campaign_id is not None:
        transaction.on_commit(lambda: app.send_task(VARIANTS_START_TASK, args=[campaign_id]))


def variant_payload(draft: Draft) -> dict[str, Any]:
    """The CMS learns which variant this is and, in an experiment, which share of the audience sees it."""
    variant = Variant.objects.filter(draft_id=draft.pk).select_related("segment").first()
    if variant is None:
        return {}
    data: dict[str, Any] = {"variant": {
        "id": variant.pk, "campaign_id": variant.campaign_id, "master_draft_id": variant.master_id,
        "segment": variant.segment.name, "arm": variant.arm,
    }}
    arm = (ExperimentArm.objects.filter(variant=variant).select_related("experiment", "experiment__winner")
           .order_by("-experiment__created_at").first())
    if arm is not None:
        experiment = arm.experiment
        promoted = experiment.winner_id is not None
        data["experiment"] = {
            "id": experiment.pk, "variant_id": variant.pk, "status": experiment.status,
            "share": (100 if experiment.winner_id == variant.pk else 0) if promoted else arm.share,
        }
    return data


def variant_manifest(draft: Draft, revision: Revision) -> dict[str, Any]:
    """The signed manifest says the piece is a variant: of which master text, for which segment version."""
    variant = Variant.objects.filter(draft_id=draft.pk).select_related("segment_version__segment").first()
    if variant is None:
        return {}
    version = variant.segment_version
    experiment_ids = sorted(ExperimentArm.objects.filter(variant=variant).values_list("experiment_id", flat=True))
    return {"variant": {
        "id": variant.pk,
        "campaign_id": variant.campaign_id,
        "master_draft_id": variant.master_id,
        "master_revision_id": variant.master_revision_id,
        "segment": {"id": version.segment_id, "name": version.segment.name, "version": version.number},
        "channel": variant.channel,
        "arm": variant.arm,
        "experiment_ids": experiment_ids,
    }}


def register() -> None:
    section_framing_hook_register(variant_section_framing, wording=WORDING)
    gate_state_hook_register(variant_gate_inheritance)
    status_hook_register(status_changed)
    payload_hook_register(variant_payload)
    manifest_hook_register(variant_manifest)
