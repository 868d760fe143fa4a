"""Each insights metric on a small history whose answer is known by hand (tests/insights_history.py),
and the rollups following the audit log."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import transaction
from django.utils import timezone

from editorial.insights.facts import facts_refresh
from editorial.insights.metrics import Filters, default_period, insights_compute, insights_figures
from editorial.insights.models import DraftFact, StatusChange
from editorial.insights.rollups import PERCENTILE_ERROR
from editorial.insights.tasks import refresh
from editorial.models import Brief, Draft
from editorial.transitions import draft_transition
from tests.helpers import draft_in_review
from tests.insights_history import seed_history

pytestmark = pytest.mark.django_db


def approx_p(seconds: float):
    """Percentiles come from the rollups' histograms: within their stated error."""
    return pytest.approx(seconds, rel=PERCENTILE_ERROR)


@pytest.fixture
def figures(world):
    history = seed_history(world)
    facts_refresh(everything=True)
    filters = Filters(brands=[world.brand.pk], start=date(2026, 11, 1), end=date(2026, 11, 30))
    return insights_compute(filters), history


def test_cost_per_published_piece_counts_the_rejected_drafts_cost(figures):
    summary = figures[0]["summary"]
    assert summary["drafts"] == 3 and summary["published"] == 1
    assert summary["cost_total"] == pytest.approx(0.60)
    assert summary["cost_per_published"] == pytest.approx(0.60)
    assert summary["cost_per_draft"] == pytest.approx(0.20)
    assert summary["published_per_1000_usd"] == pytest.approx(1000 / 0.60)


def test_edit_rate_is_the_share_of_approved_pieces_whose_text_changed(figures):
    summary = figures[0]["summary"]
    assert summary["edit_rate"] == pytest.approx(0.5)  # 1 of the 2 approved
    assert summary["edit_distance"] == pytest.approx((1 / 12 + 0) / 2)  # 1 of 12 words, and none
    assert summary["section_rewrites"] == pytest.approx(1 / 3)


def test_approval_latency_overall_and_per_gate(figures):
    result = figures[0]
    assert result["summary"]["approval_p50_s"] == approx_p(3240)  # median of 3,600 and 2,880
    assert result["summary"]["approval_p95_s"] == approx_p(2880 + 0.95 * 720)
    gates = {g["gate"]: g for g in result["gates"]}
    assert gates["Editorial"]["n"] == 2 and gates["Editorial"]["p50_s"] == approx_p((1800 + 2880) / 2)
    assert gates["Brand"]["n"] == 1 and gates["Brand"]["p50_s"] == approx_p(3600)
    assert result["summary"]["to_publish_p50_s"] == approx_p(4260)


def test_speed_from_brief_to_review_and_of_the_writer(figures):
    summary = figures[0]["summary"]
    assert summary["generation_p50_s"] == approx_p(120)  # of 60, 120, 500
    assert summary["ttft_ms"] == pytest.approx(500)
    assert summary["tokens_per_s"] == pytest.approx(350 / 20)


def test_send_backs_rejections_and_their_reasons_grouped(figures):
    result = figures[0]
    assert result["summary"]["send_back_rate"] == pytest.approx(1 / 3)
    assert result["summary"]["rejection_rate"] == pytest.approx(1 / 3)
    reasons = {(r["decision"], r["reason"]): r["n"] for r in result["reasons"]}
    assert reasons == {("request_changes", "too salesy"): 1, ("reject", "off brand"): 1}


def test_escalations_failures_and_time_to_recover(figures):
    summary = figures[0]["summary"]
    assert summary["needs_human_rate"] == pytest.approx(1 / 3)
    assert summary["failed_runs"] == 1
    assert summary["mttr_s"] == pytest.approx(400)


def test_findings_per_thousand_words_overrides_and_unsupported_claims(figures):
    result = figures[0]
    by_category = {f["category"]: f["per_1000_words"] for f in result["findings"]}
    assert by_category == {"banned_term": pytest.approx(1000 / 36), "claims": pytest.approx(1000 / 36)}
    assert result["summary"]["findings_per_1000_words"] == pytest.approx(2000 / 36)  # 3 texts of 12 words
    assert result["summary"]["override_rate"] == pytest.approx(1.0)
    assert result["summary"]["unsupported_rate"] == pytest.approx(0.5)


def test_series_by_day_and_week_and_breakdown_by_model_version(figures, world):
    result, history = figures
    assert [(r["period"], r["drafts"]) for r in result["series"]] == [("2026-11-02", 1), ("2026-11-03", 2)]
    weekly = insights_compute(Filters(brands=[world.brand.pk], start=date(2026, 11, 1), end=date(2026, 11, 30),
                                      interval="week"))
    assert [(r["period"], r["drafts"]) for r in weekly["series"]] == [("2026-11-02", 3)]
    rows = {r["label"]: r for r in result["breakdown"]}
    assert rows["Settings model"]["drafts"] == 2 and rows["Challenger"]["drafts"] == 1
    assert rows["Challenger"]["rejection_rate"] == 1.0 and rows["Settings model"]["edit_rate"] == 0.5
    only = insights_compute(Filters(brands=[world.brand.pk], start=date(2026, 11, 1), end=date(2026, 11, 30),
                                    model_version=history.other_model.pk))
    assert only["summary"]["drafts"] == 1


def test_another_brand_or_period_sees_none_of_these_figures(figures, world):
    other = insights_compute(Filters(brands=[world.other_brand.pk], start=date(2026, 11, 1), end=date(2026, 11, 30)))
    assert other["summary"]["drafts"] == 0 and other["series"] == [] and other["gates"] == []
    before = insights_compute(Filters(brands=[world.brand.pk], start=date(2026, 10, 1), end=date(2026, 10, 31)))
    assert before["summary"]["drafts"] == 0


def test_the_refresh_follows_audited_moves_and_runs_twice_harmlessly(world):
    draft = draft_in_review(world)
    facts_refresh()
    with transaction.atomic():
        locked = Draft.objects.select_for_update().get(pk=draft.pk)
        draft_transition(draft=locked, to=Draft.Status.APPROVED, action="editorial.draft.approve", user=world.editor)
    facts_refresh()
    facts_refresh()
    assert list(StatusChange.objects.filter(draft=draft).values_list("old", "new")) == [("in_review", "approved")]
    fact = DraftFact.objects.get(draft=draft)
    assert fact.status == "approved" and fact.approved and fact.edited is False


def test_figures_are_kept_until_the_next_refresh_pass(world):
    seed_history(world)
    facts_refresh(everything=True)
    filters = Filters(brands=[world.brand.pk], start=date(2026, 11, 1), end=date(2026, 11, 30))
    assert insights_figures(filters)["summary"]["drafts"] == 3
    Brief.objects.filter(drafts__status="rejected").update(created_at=datetime(2026, 10, 5, tzinfo=UTC))
    assert insights_figures(filters)["summary"]["drafts"] == 3  # served from the cache: no pass since
    facts_refresh(everything=True)  # the pass rebuilds the facts and rollups and starts a new generation
    assert insights_figures(filters)["summary"]["drafts"] == 2


def test_the_refresh_task_warms_the_default_views_of_each_brand(world, django_assert_max_num_queries):
    draft = draft_in_review(world)
    Draft.objects.filter(pk=draft.pk).update(status_changed_at=timezone.now())
    assert refresh() >= 1
    start, end = default_period()
    with django_assert_max_num_queries(0):
        for brands in ([world.brand.pk], [world.other_brand.pk], [world.other_brand.pk, world.brand.pk]):
            insights_figures(Filters(brands=brands, start=start, end=end, interval="week"))
