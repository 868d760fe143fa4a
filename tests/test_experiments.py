"""Experiments: the split, the CMS's signed outcome reports counted once, the statistics against a
known case, and the winner promoted with the losers retracted."""
from __future__ import annotations

import json
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from standardwebhooks import Webhook

from editorial.campaigns.experiments import experiment_create, experiment_promote, experiment_results
from editorial.campaigns.models import Campaign, Experiment, OutcomeReport
from editorial.models import Draft
from governance.audit import AuditEvent
from governance.models import Delivery
from governance.publishing.publish import draft_publish
from governance.signoffs import signoff_record
from tests.campaign_helpers import MASTER, approve_master, campaign_world, override_blocking, variants_written

pytestmark = pytest.mark.django_db


def ab_test(world, *, shares=(50, 50)):
    """Two variants (A and B) of one segment on the blog, approved, in an experiment."""
    cw = campaign_world(world, arms=2)
    approve_master(cw)
    variants_written(cw, {"Students": MASTER.replace("crisp October", "quiet study"), "Families": MASTER})
    a, b = cw.campaign.variants.filter(segment__name="Students").order_by("arm")
    for v in (a, b):
        override_blocking(v.draft, world.editor)
        signoff_record(draft=v.draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                       revision_id=v.draft.current_revision_id)
        v.draft.refresh_from_db()
    experiment = experiment_create(user=world.editor, campaign=cw.campaign, name="Headline test", variants=[a, b],
                                   shares=list(shares))
    return cw.campaign, experiment, a, b


def report(client, connector, data, *, msg_id="msg_1", secret=None):
    body = json.dumps({"type": "experiment.outcome", "timestamp": datetime.now(dt_timezone.utc).isoformat(),
                       "data": data})
    now = datetime.now(dt_timezone.utc)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret or connector.secret).sign(msg_id, now, body)}
    return client.post(reverse("campaigns:outcome-callback", args=[connector.pk]), body,
                       content_type="application/json",
                       **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


def test_an_experiment_compares_variants_of_one_audience_with_a_split_that_adds_up(world):
    campaign, experiment, a, b = ab_test(world, shares=(70, 30))
    assert sorted(experiment.arms.values_list("share", flat=True)) == [30, 70]
    families = campaign.variants.filter(segment__name="Families").first()
    with pytest.raises(ValidationError, match="same segment"):
        experiment_create(user=world.editor, campaign=campaign, name="x", variants=[a, families], shares=[50, 50])
    with pytest.raises(ValidationError, match="add up to 100"):
        experiment_create(user=world.editor, campaign=campaign, name="x", variants=[a, b], shares=[60, 60])
    with pytest.raises(PermissionDenied):
        experiment_create(user=world.brand_reviewer, campaign=campaign, name="x", variants=[a, b], shares=[50, 50])


def test_an_outcome_report_is_counted_once_when_it_is_replayed(client, world):
    _, experiment, a, _ = ab_test(world)
    data = {"report_id": "r-2026-12-07-1", "experiment_id": experiment.pk, "variant_id": a.pk,
            "impressions": 1000, "clicks": 120, "conversions": 30}
    first = report(client, world.connector, data, msg_id="msg_1")
    assert first.status_code == 201 and first.json()["replayed"] is False
    again = report(client, world.connector, data, msg_id="msg_2")  # the CMS retried: same report id
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert OutcomeReport.objects.count() == 1
    result = experiment_results(experiment).arms[0]
    assert (result.impressions, result.clicks, result.conversions) == (1000, 120, 30)
    assert AuditEvent.objects.filter(action="campaigns.outcome.record").count() == 1


def test_an_outcome_report_with_a_bad_signature_or_bad_numbers_is_refused(client, world):
    _, experiment, a, _ = ab_test(world)
    data = {"report_id": "r1", "experiment_id": experiment.pk, "variant_id": a.pk, "impressions": 10, "clicks": 20}
    forged = report(client, world.connector, data, secret="whsec_" + "QUJD" * 8)
    assert forged.status_code == 401 and forged["Content-Type"] == "application/problem+json"
    bad = report(client, world.connector, data)
    assert bad.status_code == 422 and "exceed impressions" in bad.json()["detail"]
    negative = report(client, world.connector, {**data, "clicks": -1})
    assert negative.status_code == 422
    assert client.get(reverse("campaigns:outcome-callback", args=[world.connector.pk])).status_code == 405
    assert not OutcomeReport.objects.exists()


def test_the_statistics_match_a_known_two_proportion_case(world):
    # A: 200 conversions of 1000, B: 250 of 1000. By hand: pooled p = 0.225, SE = sqrt(.225·.775·2/1000)
    # = 0.018675, z = 0.05/0.018675 = 2.6774, two-sided p = 0.00742; Wald SE = sqrt(.2·.8/1000 +
    # .25·.75/1000) = 0.018641, 95% CI = 0.05 ± 1.95996·0.018641 = (0.01346, 0.08654); uplift 25%.
    _, experiment, a, b = ab_test(world)
    OutcomeReport.objects.create(report_id="a", experiment=experiment, variant=a, connector=world.connector,
                                 impressions=600, clicks=0, conversions=120)
    OutcomeReport.objects.create(report_id="a2", experiment=experiment, variant=a, connector=world.connector,
                                 impressions=400, clicks=0, conversions=80)
    OutcomeReport.objects.create(report_id="b", experiment=experiment, variant=b, connector=world.connector,
                                 impressions=1000, clicks=0, conversions=250)
    results = experiment_results(experiment)
    control, variant = results.arms
    assert (control.rate, variant.rate) == (0.2, 0.25)
    assert variant.diff == pytest.approx(0.05)
    assert variant.uplift == pytest.approx(0.25)
    assert variant.ci_low == pytest.approx(0.01346, abs=1e-5) and variant.ci_high == pytest.approx(0.08654, abs=1e-5)
    assert variant.p_value == pytest.approx(0.00742, abs=1e-5) and variant.significant
    assert results.warnings == []


def test_the_page_warns_while_the_sample_is_too_small(client, world):
    _, experiment, a, b = ab_test(world)
    OutcomeReport.objects.create(report_id="a", experiment=experiment, variant=a, connector=world.connector,
                                 impressions=40, clicks=5, conversions=2)
    results = experiment_results(experiment)
    assert results.warnings and "Too small a sample" in results.warnings[0]
    assert client.login(username="eddie", password="pw")
    page = client.get(reverse("campaigns:experiment", args=[experiment.pk])).content.decode()
    assert "Too small a sample" in page and "Promote B" in page


def test_promoting_the_winner_publishes_it_to_everyone_and_retracts_the_losers(world):
    _, experiment, a, b = ab_test(world)
    for v in (a, b):
        draft_publish(draft=v.draft, user=world.editor)
    first = Delivery.objects.get(draft=b.draft, event_type="published")
    assert first.payload["data"]["experiment"] == {"id": experiment.pk, "variant_id": b.pk, "status": "running",
                                                   "share": 50}
    experiment_promote(experiment=experiment, user=world.editor, winner=b)
    a.draft.refresh_from_db()
    b.draft.refresh_from_db()
    assert b.draft.status == Draft.Status.PUBLISHED and a.draft.status == Draft.Status.RETRACTED
    update = Delivery.objects.filter(draft=b.draft, event_type="updated").get()
    assert update.payload["data"]["experiment"]["share"] == 100
    assert Delivery.objects.filter(draft=a.draft, event_type="retracted").count() == 1
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.PROMOTED and experiment.winner == b
    with pytest.raises(ValidationError, match="already promoted"):
        experiment_promote(experiment=experiment, user=world.editor, winner=a)


def test_promoting_needs_the_right_to_publish(world):
    _, experiment, a, b = ab_test(world)
    with pytest.raises(PermissionDenied):
        experiment_promote(experiment=experiment, user=world.brand_reviewer, winner=b)
    assert Experiment.objects.get(pk=experiment.pk).status == Experiment.Status.RUNNING
    assert Campaign.objects.count() == 1


def test_the_api_gives_the_campaign_grid_and_the_experiment_results_to_readers_only(client, world):
    from governance.tokens import token_create

    def bearer(user, scope):
        _, raw = token_create(user=user, name=scope, scopes=[scope], expires_in_days=1, created_by=user)
        return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    campaign, experiment, a, b = ab_test(world)
    OutcomeReport.objects.create(report_id="a", experiment=experiment, variant=a, connector=world.connector,
                                 impressions=1000, clicks=0, conversions=200)
    OutcomeReport.objects.create(report_id="b", experiment=experiment, variant=b, connector=world.connector,
                                 impressions=1000, clicks=0, conversions=250)
    auth = bearer(world.brand_reviewer, "read")
    grid = client.get(f"/api/v1/campaigns/{campaign.pk}", **auth)
    assert grid.status_code == 200
    body = grid.json()
    assert body["master_draft_id"] == campaign.master_id and len(body["variants"]) == 4
    assert {v["status"] for v in body["variants"]} == {"approved", "in_review"}
    results = client.get(f"/api/v1/experiments/{experiment.pk}/results", **auth).json()
    assert results["arms"][1]["p_value"] == pytest.approx(0.00742, abs=1e-5)
    assert client.get(f"/api/v1/experiments/{experiment.pk}/results?metric=bogus", **auth).status_code == 422
    assert client.get(f"/api/v1/campaigns/{campaign.pk}", **bearer(world.outsider, "read")).status_code == 404
    assert client.get(f"/api/v1/campaigns/{campaign.pk}", **bearer(world.brand_reviewer, "write")).status_code == 403
