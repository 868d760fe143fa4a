"""The campaign pages as the owner (an editor of the brand), a reviewer of the brand, an outsider of
another brand, and with a wrong method: the list, filing a campaign, the grid and its bulk actions, a
variant reviewed as a diff against its master, and the segments."""
from __future__ import annotations

import pytest
from django.urls import reverse

from editorial.campaigns.models import Campaign, InheritedGate, Segment, Variant
from editorial.models import Draft
from governance.models import SignOff
from tests.campaign_helpers import MASTER, approve_master, campaign_world, grant, override_blocking, variants_written

pytestmark = pytest.mark.django_db

CHANGED = MASTER.replace("It tastes like a crisp October morning.", "It tastes like a quiet study break.")


@pytest.fixture
def cw(world):
    cw = campaign_world(world)
    approve_master(cw)
    variants_written(cw, {"Students": CHANGED, "Families": MASTER.replace("Order today", "Quality guaranteed. Order")})
    return cw


def student(cw) -> Variant:
    return cw.campaign.variants.select_related("draft").get(segment__name="Students")


def test_a_variant_is_reviewed_as_a_diff_against_its_master(cw, as_user):
    page = as_user("brand_reviewer").get(reverse("campaigns:variant", args=[student(cw).pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<del>crisp October morning</del>" in html and "<ins>quiet study break</ins>" in html
    assert "What changed for Students" in html and "price-minded" in html
    side = as_user("editor").get(reverse("campaigns:variant", args=[student(cw).pk]), {"view": "side"})
    assert 'class="diff side"' in side.content.decode()


def test_the_variant_page_says_why_a_gate_needs_its_own_sign_off(cw, as_user):
    InheritedGate.objects.create(gate=cw.world.gates["editorial"])
    families = cw.campaign.variants.get(segment__name="Families")
    html = as_user("editor").get(reverse("campaigns:variant", args=[families.pk])).content.decode()
    assert "Needs its own sign-off" in html and "new finding" in html
    html = as_user("editor").get(reverse("campaigns:variant", args=[student(cw).pk])).content.decode()
    assert "Inherited from the master" in html
    draft_page = as_user("editor").get(reverse("editorial:draft", args=[student(cw).draft_id])).content.decode()
    assert "Inherited from the master" in draft_page and "review as changes against the master" in draft_page


def test_a_reviewer_signs_the_variant_from_its_diff(cw, as_user):
    v = student(cw)
    client = as_user("editor")
    response = client.post(reverse("campaigns:variant-sign", args=[v.pk, cw.world.gates["editorial"].pk]),
                           {"decision": "approve", "revision": v.draft.current_revision_id})
    assert response.status_code == 302 and response["Location"] == reverse("campaigns:variant", args=[v.pk])
    v.draft.refresh_from_db()
    assert v.draft.status == Draft.Status.APPROVED
    # someone outside the gate's group is refused, and nothing is recorded
    other = cw.campaign.variants.get(segment__name="Families")
    as_user("brand_reviewer").post(reverse("campaigns:variant-sign", args=[other.pk, cw.world.gates["editorial"].pk]),
                                   {"decision": "approve", "revision": other.draft.current_revision_id})
    assert not SignOff.objects.filter(draft=other.draft).exists()


def test_outsiders_get_404_and_wrong_methods_405(cw, as_user):
    client = as_user("outsider")
    v = student(cw)
    for name, args in (("campaigns:detail", [cw.campaign.pk]), ("campaigns:variant", [v.pk])):
        assert client.get(reverse(name, args=args)).status_code == 404
    assert client.post(reverse("campaigns:bulk", args=[cw.campaign.pk]), {"ids": [v.pk], "decision": "approve"}
                       ).status_code == 404
    assert client.get(reverse("campaigns:list")).content.decode().count("Autumn roast") == 0
    owner = as_user("editor")
    assert owner.post(reverse("campaigns:detail", args=[cw.campaign.pk])).status_code == 405
    assert owner.get(reverse("campaigns:bulk", args=[cw.campaign.pk])).status_code == 405
    assert owner.get(reverse("campaigns:variant-sign", args=[v.pk, 1])).status_code == 405


def test_the_grid_shows_every_segment_and_channel_with_each_variants_state(cw, as_user):
    html = as_user("brand_reviewer").get(reverse("campaigns:detail", args=[cw.campaign.pk])).content.decode()
    for segment in ("Students", "Families"):
        assert segment in html
    assert html.count("data-variant-draft=") == 2 and "In review" in html
    cw.campaign.channels = ["blog", "social"]  # Students do not take social media
    cw.campaign.save()
    html = as_user("editor").get(reverse("campaigns:detail", args=[cw.campaign.pk])).content.decode()
    assert "not a preferred channel of this segment" in html and "Write 1 missing variant" in html
    assert "js/campaign.js" in html and "<script>" not in html
    partial = as_user("editor").get(reverse("campaigns:detail", args=[cw.campaign.pk]), HTTP_HX_REQUEST="true")
    assert partial.content.decode().lstrip().startswith('<div id="grid"')


def test_bulk_approval_signs_what_the_user_may_sign_and_says_what_it_could_not(cw, as_user):
    ids = list(cw.campaign.variants.values_list("pk", flat=True))
    response = as_user("editor").post(reverse("campaigns:bulk", args=[cw.campaign.pk]),
                                      {"ids": ids, "decision": "approve"}, follow=True)
    html = response.content.decode()
    assert "1 variant signed" in html and "blocking finding" in html  # Families has "guaranteed"
    assert Draft.objects.get(variant__segment__name="Students").status == Draft.Status.APPROVED
    assert Draft.objects.get(variant__segment__name="Families").status == Draft.Status.IN_REVIEW
    # a reviewer whose gate does not apply signs nothing
    override_blocking(Draft.objects.get(variant__segment__name="Families"), cw.world.editor)
    html = as_user("brand_reviewer").post(reverse("campaigns:bulk", args=[cw.campaign.pk]),
                                          {"ids": ids, "decision": "approve"}, follow=True).content.decode()
    assert "none of its open gates is yours to sign" in html
    sent_back = as_user("editor").post(reverse("campaigns:bulk", args=[cw.campaign.pk]),
                                       {"ids": ids, "decision": "request_changes"}, follow=True).content.decode()
    assert "a reason is required" in sent_back


def test_filing_a_campaign_from_the_page(world, as_user):
    grant(world)
    from tests.campaign_helpers import segments as make_segments

    segs = make_segments(world)
    data = {"name": "Winter", "brand": world.brand.pk, "title": "Winter blend", "goal": "Announce it",
            "audience": "everyone", "channel": "blog", "tone": "warm", "risk": "low", "template": world.template.pk,
            "segments": [s.pk for s in segs], "channels": ["blog", "newsletter"], "mode": "after_approval", "arms": 1}
    response = as_user("editor").post(reverse("campaigns:new"), data)
    campaign = Campaign.objects.get(name="Winter")
    assert response.status_code == 302 and response["Location"] == reverse("campaigns:detail", args=[campaign.pk])
    bad = as_user("editor").post(reverse("campaigns:new"), {**data, "channels": [], "arms": 9})
    assert bad.status_code == 400 and "field-error" in bad.content.decode()
    assert as_user("brand_reviewer").get(reverse("campaigns:new")).status_code == 403
    assert as_user("outsider").post(reverse("campaigns:new"), data).status_code == 400  # not their brand
    assert Campaign.objects.count() == 1


def test_the_new_campaign_form_starts_with_the_brand_and_template_chosen(world, as_user):
    grant(world)
    page = as_user("editor").get(reverse("campaigns:new")).content.decode()
    brand_select = page.split('name="brand"')[1].split("</select>")[0]
    template_select = page.split('name="template"')[1].split("</select>")[0]
    # No empty choice: the browser shows (and submits) the first brand and template.
    assert brand_select.split("<option", 1)[1].startswith(f' value="{world.brand.pk}"')
    assert "---------" not in brand_select
    assert template_select.split("<option", 1)[1].startswith(f' value="{world.template.pk}"')
    assert "---------" not in template_select


def test_segments_are_edited_by_brand_leads_as_new_versions(world, as_user):
    grant(world)
    client = as_user("editor")
    response = client.post(reverse("campaigns:segment-new"), {
        "brand": world.brand.pk, "name": "Students", "traits": "short on time\nprice-minded", "language": "en"})
    assert response.status_code == 302
    segment = Segment.objects.get(name="Students")
    client.post(reverse("campaigns:segment-edit", args=[segment.pk]), {"name": "Students", "traits": "exam season",
                                                                       "language": "de"})
    assert list(segment.versions.order_by("number").values_list("language", flat=True)) == ["en", "de"]
    assert as_user("brand_reviewer").get(reverse("campaigns:segment-new")).status_code == 403
    assert as_user("outsider").get(reverse("campaigns:segment-edit", args=[segment.pk])).status_code == 404
    listing = as_user("brand_reviewer").get(reverse("campaigns:segments")).content.decode()
    assert "Students" in listing and "exam season" in listing


def test_an_ab_test_is_started_from_ticked_variants_with_the_split_given(world, as_user):
    from editorial.campaigns.models import Experiment

    cw = campaign_world(world, arms=2)
    approve_master(cw)
    variants_written(cw, {"Students": CHANGED, "Families": MASTER})
    a, b = cw.campaign.variants.filter(segment__name="Students", channel="blog").order_by("arm")
    response = as_user("editor").post(reverse("campaigns:experiment-new", args=[cw.campaign.pk]),
                                      {"ids": [a.pk, b.pk], "split": "70,30", "name": "Headline"})
    experiment = Experiment.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("campaigns:experiment", args=[experiment.pk])
    assert dict(experiment.arms.values_list("variant__arm", "share")) == {"A": 70, "B": 30}
    bad = as_user("editor").post(reverse("campaigns:experiment-new", args=[cw.campaign.pk]),
                                 {"ids": [a.pk, b.pk], "split": "70,70", "name": "Again"}, follow=True)
    assert "add up to 100" in bad.content.decode() and Experiment.objects.count() == 1
    assert as_user("outsider").post(reverse("campaigns:experiment-new", args=[cw.campaign.pk]),
                                    {"ids": [a.pk, b.pk], "name": "x"}).status_code == 404
