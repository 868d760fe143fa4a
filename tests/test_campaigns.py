"""Campaigns and variants: segments versioned, variants filed through the brief service from the
approved master, the variant's prompt, gates inherited from the master or not, the variant in the
payload and the signed manifest."""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from agents.pipeline.prompts import render_section_prompt
from editorial.campaigns import hooks
from editorial.campaigns.models import Campaign, InheritedGate, Variant
from editorial.campaigns.segments import segment_save
from editorial.campaigns.services import VARIANTS_START_TASK, campaign_variants_start
from editorial.campaigns.tasks import variants_start
from editorial.models import Draft
from governance.gates import gate_states
from governance.provenance import manifest_for
from governance.publishing.delivery import delivery_payload
from governance.signoffs import signoff_record
from tests.campaign_helpers import (
    MASTER,
    approve_master,
    campaign_world,
    grant,
    override_blocking,
    variants_written,
)

pytestmark = pytest.mark.django_db

SAME_BUT_ONE = MASTER.replace("It tastes like a crisp October morning.", "It tastes like a quiet study break.")
WITH_BANNED = MASTER.replace("It tastes like a crisp October morning.", "Great taste, guaranteed for breakfast.")


def test_saving_a_segment_again_makes_a_new_version_and_keeps_the_old(world):
    grant(world)
    first = segment_save(user=world.editor, brand=world.brand, name="Students", traits="short on time\nprice-minded")
    second = segment_save(user=world.editor, brand=world.brand, name="Students", traits=["exam season"],
                          language="de", segment=first.segment)
    assert (first.number, second.number) == (1, 2)
    assert first.segment.versions.count() == 2
    first.refresh_from_db()
    assert first.traits == ["short on time", "price-minded"]
    second.segment.refresh_from_db()
    assert second.segment.active_version == second


def test_only_brand_leads_and_admins_edit_segments(world):
    with pytest.raises(PermissionDenied):  # an editor without the lead's permission
        segment_save(user=world.editor, brand=world.brand, name="Students")
    grant(world)
    with pytest.raises(PermissionDenied):  # a lead of another brand
        segment_save(user=world.outsider, brand=world.brand, name="Students")
    with pytest.raises(ValidationError):
        segment_save(user=world.editor, brand=world.brand, name="Students", channels=["fax"])


def test_variants_wait_for_the_approved_master_and_start_when_it_is_approved(world, monkeypatch,
                                                                                django_capture_on_commit_callbacks):
    cw = campaign_world(world)
    assert cw.campaign.variants.count() == 0
    with pytest.raises(ValidationError, match="approve the master first"):
        campaign_variants_start(campaign=cw.campaign, user=world.editor)
    sent = []
    monkeypatch.setattr(hooks.app, "send_task", lambda name, args: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        master = approve_master(cw)
    assert master.status == Draft.Status.APPROVED
    assert sent == [(VARIANTS_START_TASK, [cw.campaign.pk])]

    variants_start(cw.campaign.pk)  # what the worker runs for that message
    created = list(cw.campaign.variants.select_related("segment", "draft", "segment_version"))
    assert {(v.segment.name, v.channel) for v in created} == {("Students", "blog"), ("Families", "blog")}
    variant = created[0]
    assert variant.master == master and variant.master_revision_id == master.current_revision_id
    assert variant.segment_version == variant.segment.active_version
    assert variant.draft.status == Draft.Status.GENERATING and variant.draft.brief.audience == variant.segment.name
    assert campaign_variants_start(campaign=cw.campaign, user=world.editor) == []  # twice: nothing new


def test_a_parallel_campaign_writes_its_variants_with_the_master(world):
    cw = campaign_world(world, mode=Campaign.Mode.PARALLEL, arms=2, channels=("blog", "newsletter", "social"))
    # Students prefer the blog and the newsletter; Families take every channel
    assert cw.campaign.variants.filter(segment__name="Students").count() == 2 * 2
    assert cw.campaign.variants.filter(segment__name="Families").count() == 3 * 2
    assert set(cw.campaign.variants.values_list("arm", flat=True)) == {"A", "B"}
    assert not cw.campaign.variants.filter(master_revision__isnull=False).exists()


def test_the_variant_prompt_carries_the_masters_approved_text_and_the_audience(world):
    cw = campaign_world(world)
    approve_master(cw)
    variant = campaign_variants_start(campaign=cw.campaign, user=world.editor)[0]
    variant = Variant.objects.select_related("segment_version").get(pk=variant.pk)
    system, prompt = render_section_prompt(version=world.template.active_version, brief=variant.draft.brief,
                                           heading="Part 2", instruction="", sources=[])
    assert "We buy the beans from two farms. Order today in any of our shops." in prompt
    assert "It tastes like a crisp October morning" not in prompt  # only this section of the master
    for trait in variant.segment_version.traits:
        assert trait in prompt
    assert f"Audience: {variant.segment.name}" in prompt
    assert prompt.rstrip().endswith("## Part 2")  # the model still starts writing the section
    # the master itself gets the template's prompt only
    _, master_prompt = render_section_prompt(version=world.template.active_version, brief=cw.campaign.master.brief,
                                             heading="Part 2", instruction="", sources=[])
    assert "Audience:" not in master_prompt


def test_a_gate_is_inherited_when_the_changed_sentences_raise_nothing_new(world):
    cw = campaign_world(world)
    InheritedGate.objects.create(gate=world.gates["editorial"])
    approve_master(cw)
    quiet, = [v for v in variants_written(cw, {"Students": SAME_BUT_ONE, "Families": WITH_BANNED})
              if v.segment.name == "Students"]
    state, = gate_states(quiet.draft)
    assert state.status == "approved" and state.inherited_from is not None
    assert state.signoff.draft_id == cw.campaign.master_id
    assert "raise no new findings" in state.note


def test_a_gate_is_not_inherited_when_a_changed_sentence_raises_a_new_finding(world):
    cw = campaign_world(world)
    InheritedGate.objects.create(gate=world.gates["editorial"])
    approve_master(cw)
    risky, = [v for v in variants_written(cw, {"Students": SAME_BUT_ONE, "Families": WITH_BANNED})
              if v.segment.name == "Families"]
    state, = gate_states(risky.draft)
    assert state.status == "pending" and state.inherited_from is None
    assert "Needs its own sign-off" in state.note and "guaranteed" in state.note.lower()
    # its own sign-off then approves it (once the finding is dealt with)
    override_blocking(risky.draft, world.editor)
    signoff_record(draft=risky.draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=risky.draft.current_revision_id)
    risky.draft.refresh_from_db()
    assert risky.draft.status == Draft.Status.APPROVED


def test_a_finding_the_master_already_had_does_not_stop_inheritance(world):
    cw = campaign_world(world)
    InheritedGate.objects.create(gate=world.gates["editorial"])
    risky_master = MASTER.replace("Order today", "Quality guaranteed. Order today")
    approve_master(cw, risky_master)
    variant = variants_written(cw, {"Students": risky_master.replace("crisp October", "quiet study"),
                                    "Families": risky_master})[0]
    state, = gate_states(variant.draft)
    assert state.status == "approved"


def test_a_gate_not_marked_inherit_needs_the_variants_own_sign_off(world):
    cw = campaign_world(world)
    approve_master(cw)
    variant = variants_written(cw, {"Students": MASTER, "Families": MASTER})[0]
    state, = gate_states(variant.draft)
    assert state.status == "pending" and state.note == ""


def test_the_payload_and_the_signed_manifest_say_the_piece_is_a_variant(world):
    cw = campaign_world(world)
    master = approve_master(cw)
    variant = variants_written(cw, {"Students": SAME_BUT_ONE, "Families": MASTER})[0]
    revision = variant.draft.current_revision
    manifest = manifest_for(revision)
    assert manifest["variant"]["master_draft_id"] == master.pk
    assert manifest["variant"]["master_revision_id"] == master.current_revision_id
    assert manifest["variant"]["segment"] == {"id": variant.segment_id, "name": variant.segment.name,
                                              "version": variant.segment_version.number}
    payload = delivery_payload(draft=variant.draft, revision=revision, event_type="published",
                               connector=world.connector)
    assert payload["data"]["variant"]["id"] == variant.pk
    assert "variant" not in manifest_for(master.current_revision)


def test_a_variant_whose_every_gate_is_inherited_is_approved_when_it_reaches_review(
        world, django_capture_on_commit_callbacks):
    from editorial.transitions import draft_transition

    cw = campaign_world(world)
    InheritedGate.objects.create(gate=world.gates["editorial"])
    approve_master(cw)
    quiet, risky = sorted(variants_written(cw, {"Students": SAME_BUT_ONE, "Families": WITH_BANNED}),
                          key=lambda v: v.segment.name != "Students")
    for v in (quiet, risky):  # what the check step does: generating → in review, through the transition
        Draft.objects.filter(pk=v.draft_id).update(status=Draft.Status.GENERATING)
        with django_capture_on_commit_callbacks(execute=True):
            draft_transition(draft=Draft.objects.get(pk=v.draft_id), to=Draft.Status.IN_REVIEW,
                             action="editorial.draft.ready_for_review")
    assert Draft.objects.get(pk=quiet.draft_id).status == Draft.Status.APPROVED
    assert Draft.objects.get(pk=risky.draft_id).status == Draft.Status.IN_REVIEW
    from governance.audit import AuditEvent

    event = AuditEvent.objects.get(action="campaigns.variant.approve_inherited")
    assert event.data["inherited"][0]["gate"] == "editorial"


def test_a_variant_section_that_reads_back_the_rewrite_framing_is_refused(world):
    from agents.pipeline.acceptance import check_section, rules_for
    from agents.pipeline.prompts import prompt_framing

    echo = ("Here is the approved text for all readers, so rewrite it for this audience: keep its facts and "
            "claims, change the wording, emphasis and examples.")
    rules = rules_for({"heading": "Part 1"}, version=world.template.active_version, language="en")
    problems = check_section(echo, rules, framing=prompt_framing(world.template.active_version))
    assert any("repeats the prompt's wording" in p for p in problems), problems


def test_a_variant_goes_through_the_normal_pipeline_with_the_masters_section_in_its_prompt(world, model_at):
    from tests.helpers import drive

    cw = campaign_world(world)
    master = cw.campaign.master
    drive(master)
    master.refresh_from_db()
    assert master.status == Draft.Status.IN_REVIEW
    override_blocking(master, world.editor)
    signoff_record(draft=master, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=master.current_revision_id)
    variant = campaign_variants_start(campaign=cw.campaign, user=world.editor)[0]
    model_at.requests.clear()
    drive(variant.draft)
    variant.draft.refresh_from_db()
    assert variant.draft.status == Draft.Status.IN_REVIEW
    assert [r.kind for r in variant.draft.runs.order_by("id")] == ["plan", "retrieve", "write", "check"]
    part_two = master.current_revision.content.split("## Part 2\n\n")[1].strip()
    prompts = [r["prompt"] for r in model_at.requests]
    assert len(prompts) == 2 and part_two in prompts[1] and part_two not in prompts[0]
    assert all(f"Audience: {variant.segment.name}" in p for p in prompts)
