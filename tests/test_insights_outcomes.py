"""Experiment outcomes in Insights: the CMS's reports on variants counted once per report, by the model
and prompt version that wrote each variant, on the page, in the API and CSV, in the rollups kept by the
refresh pass, in the version comparison (Newcombe intervals, "cannot tell" on small samples) and in the
alert rules; a brand's figures seen only by its own people."""
from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db.models import Sum
from statsmodels.stats.proportion import confint_proportions_2indep

from agents.models import PromptTemplateVersion
from editorial.campaigns.models import OutcomeReport
from editorial.insights.alerts import alert_evaluate
from editorial.insights.compare import MIN_N, versions_compare
from editorial.insights.facts import facts_refresh
from editorial.insights.metrics import Filters, default_period, insights_compute, insights_compute_exact
from editorial.insights.models import AlertRule, DayRollup, DraftFact, FeedCursor
from editorial.insights.rollups import local_day
from editorial.models import Brief, Draft
from tests.test_experiments import ab_test, report

pytestmark = pytest.mark.django_db
API = "/api/v1/metrics"


def second_version(world) -> PromptTemplateVersion:
    first = world.template.active_version
    return PromptTemplateVersion.objects.create(template=world.template, number=first.number + 1,
                                                section_prompt=first.section_prompt, sections=first.sections)


@pytest.fixture
def two_versions(world):
    """An A/B test whose variant A was written by prompt v1 and B by prompt v2."""
    campaign, experiment, a, b = ab_test(world)
    v1, v2 = world.template.active_version, second_version(world)
    Draft.objects.filter(pk=a.draft_id).update(prompt_version=v1)
    Draft.objects.filter(pk=b.draft_id).update(prompt_version=v2)
    facts_refresh(everything=True)
    return experiment, a, b, v1, v2


def outcome(experiment, variant, report_id, impressions, clicks, conversions) -> dict:
    return {"report_id": report_id, "experiment_id": experiment.pk, "variant_id": variant.pk,
            "impressions": impressions, "clicks": clicks, "conversions": conversions}


def test_outcomes_of_variants_by_two_prompt_versions_show_per_version_rates_in_the_api_csv_and_page(
        client, world, two_versions):
    experiment, a, b, v1, v2 = two_versions
    assert report(client, world.connector, outcome(experiment, a, "r-a", 1000, 100, 20), msg_id="m1").status_code == 201
    assert report(client, world.connector, outcome(experiment, b, "r-b", 800, 120, 40), msg_id="m2").status_code == 201
    facts_refresh()  # the beat pass

    assert client.login(username="eddie", password="pw")
    body = client.get(API, {"by": "prompt_version"}).json()
    rows = {r["key"]: r for r in body["breakdown"]}
    assert (rows[v1.pk]["impressions"], rows[v1.pk]["clicks"], rows[v1.pk]["conversions"]) == (1000, 100, 20)
    assert rows[v1.pk]["click_through_rate"] == pytest.approx(0.10)
    assert rows[v1.pk]["conversion_rate"] == pytest.approx(0.02)
    assert rows[v2.pk]["click_through_rate"] == pytest.approx(0.15)
    assert rows[v2.pk]["conversion_rate"] == pytest.approx(0.05)
    assert rows[v2.pk]["outcome_drafts"] == 1
    summary = body["summary"]
    assert (summary["impressions"], summary["clicks"], summary["outcome_drafts"]) == (1800, 220, 2)
    assert summary["click_through_rate"] == pytest.approx(220 / 1800)

    table = client.get(API, {"by": "prompt_version", "table": "breakdown"}, HTTP_ACCEPT="text/csv")
    parsed = {r["key"]: r for r in csv.DictReader(io.StringIO(table.content.decode()))}
    assert float(parsed[str(v2.pk)]["click_through_rate"]) == pytest.approx(0.15)
    assert parsed[str(v2.pk)]["impressions"] == "800" and parsed[str(v1.pk)]["outcome_drafts"] == "1"

    page = client.get("/insights/", {"by": "prompt_version"})
    html = page.content.decode()
    assert page.status_code == 200 and 'id="c-outcomes"' in html and 'data-chart="outcomes"' in html
    outcomes = html.split('id="c-outcomes"')[1].split('id="t-breakdown"')[0]
    assert f"{world.template.name} v{v1.number}" in outcomes and f"{world.template.name} v{v2.number}" in outcomes
    assert "10.0%" in outcomes and "15.0%" in outcomes and "2.0%" in outcomes and "5.0%" in outcomes
    assert "1,800" in outcomes


def test_a_replayed_outcome_report_is_counted_once_in_insights(client, world, two_versions):
    experiment, a, _, v1, _ = two_versions
    data = outcome(experiment, a, "r-1", 500, 50, 5)
    assert report(client, world.connector, data, msg_id="m1").status_code == 201
    facts_refresh()
    assert report(client, world.connector, data, msg_id="m2").json()["replayed"] is True  # the CMS retried
    facts_refresh()
    facts_refresh(everything=True)  # and a full rebuild counts it once too
    fact = DraftFact.objects.get(draft_id=a.draft_id)
    assert (fact.impressions, fact.clicks, fact.conversions) == (500, 50, 5)
    assert DayRollup.objects.aggregate(n=Sum("impressions"))["n"] == 500
    start, end = default_period()
    figures = insights_compute(Filters(brands=[world.brand.pk], start=start, end=end, by="prompt_version"))
    assert figures["summary"]["impressions"] == 500 and figures["summary"]["clicks"] == 50


def test_the_refresh_pass_picks_up_a_late_outcome_on_the_day_its_brief_was_filed(client, world, two_versions):
    experiment, a, b, _, _ = two_versions
    filed = datetime.now(UTC) - timedelta(days=20)
    Brief.objects.filter(pk=a.draft.brief_id).update(created_at=filed)
    facts_refresh(everything=True)
    assert report(client, world.connector, outcome(experiment, a, "r-1", 300, 30, 3), msg_id="m1").status_code == 201
    facts_refresh()
    day = DayRollup.objects.get(brand=world.brand, impressions__gt=0)
    assert (day.day, day.impressions, day.outcome_drafts) == (local_day(filed), 300, 1)
    # Weeks later the CMS reports more of the same variant: the next pass rebuilds that day's cell.
    assert report(client, world.connector, outcome(experiment, a, "r-2", 700, 20, 7), msg_id="m2").status_code == 201
    facts_refresh()
    day = DayRollup.objects.get(brand=world.brand, impressions__gt=0)
    assert (day.day, day.impressions, day.clicks, day.conversions) == (local_day(filed), 1000, 50, 10)
    start, end = default_period()
    filters = Filters(brands=[world.brand.pk], start=start, end=end, interval="day")
    from_rollups, exact = insights_compute(filters), insights_compute_exact(filters)
    for key in ("impressions", "clicks", "conversions", "outcome_drafts", "click_through_rate", "conversion_rate"):
        assert from_rollups["summary"][key] == pytest.approx(exact["summary"][key]), key
    periods = {r["period"]: r["impressions"] for r in from_rollups["series"] if r["impressions"]}
    assert periods == {local_day(filed).isoformat(): 1000}


def test_reports_recorded_before_the_upgrade_are_taken_in_by_the_outcome_watermark(world, two_versions):
    experiment, a, _, _, _ = two_versions
    # Written without the audit event naming the draft (as reports recorded before Insights read them).
    OutcomeReport.objects.create(report_id="old-1", experiment=experiment, variant=a, connector=world.connector,
                                 impressions=400, clicks=40, conversions=4)
    assert facts_refresh() >= 1
    assert DraftFact.objects.get(draft_id=a.draft_id).impressions == 400
    assert FeedCursor.objects.get().last_outcome_id == OutcomeReport.objects.get().pk
    facts_refresh()  # past the watermark: read again never, counted once
    assert DraftFact.objects.get(draft_id=a.draft_id).impressions == 400


FILED = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def outcome_facts(world, version: PromptTemplateVersion, per_draft: list[tuple[int, int]]) -> None:
    """One variant-like draft of `version` per (impressions, clicks)."""
    for i, (impressions, clicks) in enumerate(per_draft):
        brief = Brief.objects.create(brand=world.brand, title=f"v{version.number} {i}", goal="g", audience="a",
                                     channel="blog", tone="t", template=world.template, requested_by=world.requester)
        draft = Draft.objects.create(brief=brief, brand=world.brand, title=brief.title, prompt_version=version)
        DraftFact.objects.create(draft=draft, brand=world.brand, prompt_version=version, template=world.template,
                                 channel="blog", created_at=FILED, status="published", impressions=impressions,
                                 clicks=clicks)


def spread(n: int, total: int) -> list[int]:
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def compared(world, v1, v2) -> dict:
    rows = versions_compare(filters=Filters(brands=[world.brand.pk], start=date(2026, 11, 1), end=date(2026, 11, 30)),
                            dimension="prompt_version", a=v1.pk, b=v2.pk)
    return {r.metric.key: r for r in rows}


def test_the_comparison_gives_newcombes_interval_for_the_published_case_and_cannot_tell_on_its_small_sample(world):
    # Newcombe (1998), table II, example (a): 56/70 against 48/80 → 0.1750 (0.0524 to 0.3339), method 10,
    # here as clicks per impression over 20 drafts a side.
    v1, v2 = world.template.active_version, second_version(world)
    outcome_facts(world, v1, list(zip(spread(20, 80), spread(20, 48))))
    outcome_facts(world, v2, list(zip(spread(20, 70), spread(20, 56))))
    ctr = compared(world, v1, v2)["click_through_rate"]
    assert (ctr.a, ctr.b, ctr.n_a, ctr.n_b) == (0.6, 0.8, 20, 20)
    assert ctr.diff == pytest.approx(0.2)
    assert (round(ctr.low, 4), round(ctr.high, 4)) == (0.0524, 0.3339)
    # Fewer than 100 impressions a side: the experiment page's rule, so no verdict.
    assert not ctr.significant and ctr.better == "" and ctr.note.startswith("too small a sample to tell")


def test_the_comparison_calls_a_large_clear_outcome_gap_and_matches_statsmodels(world):
    v1, v2 = world.template.active_version, second_version(world)
    outcome_facts(world, v1, list(zip(spread(25, 10_000), spread(25, 1_000))))
    outcome_facts(world, v2, list(zip(spread(25, 10_000), spread(25, 1_200))))
    rows = compared(world, v1, v2)
    ctr = rows["click_through_rate"]
    low, high = confint_proportions_2indep(1_200, 10_000, 1_000, 10_000, method="newcomb", compare="diff")
    assert ctr.low == pytest.approx(low, abs=1e-9) and ctr.high == pytest.approx(high, abs=1e-9)
    assert ctr.significant and ctr.better == "b" and ctr.note == "significant at 95%"
    impressions = rows["impressions"]
    assert (impressions.a, impressions.b, impressions.n_a, impressions.significant) == (10_000, 10_000, 25, False)
    assert rows["conversion_rate"].note.startswith("too small a sample")  # no conversions reported at all


def test_the_same_outcome_gap_over_too_few_drafts_is_not_called_a_difference(world):
    v1, v2 = world.template.active_version, second_version(world)
    outcome_facts(world, v1, [(5_000, 500)] * 3)
    outcome_facts(world, v2, [(5_000, 900)] * 3)
    ctr = compared(world, v1, v2)["click_through_rate"]
    assert ctr.low > 0  # the interval alone would call it
    assert not ctr.significant and ctr.note == f"too few drafts to tell (n = 3 and 3; {MIN_N} needed on each side)"


def test_the_compare_page_shows_the_outcome_rows(client, world):
    v1, v2 = world.template.active_version, second_version(world)
    outcome_facts(world, v1, list(zip(spread(25, 10_000), spread(25, 1_000))))
    outcome_facts(world, v2, list(zip(spread(25, 10_000), spread(25, 1_200))))
    assert client.login(username="eddie", password="pw")
    page = client.get("/insights/compare/", {"dimension": "prompt_version", "a": v1.pk, "b": v2.pk,
                                             "start": "2026-11-01", "end": "2026-11-30"})
    html = page.content.decode()
    assert page.status_code == 200 and "Outcomes" in html and "Click-through rate (clicks per impression)" in html
    row = html.split("Click-through rate (clicks per impression)")[1].split("</tr>")[0]
    assert "10.0%" in row and "12.0%" in row and "B better" in row
    impressions = html.split("<th scope=\"row\">Impressions</th>")[1].split("</tr>")[0]
    assert "10,000" in impressions and " ms" not in impressions and "Total" in impressions


def test_an_alert_rule_on_an_outcome_rate_counts_drafts_with_outcomes(client, world, two_versions):
    experiment, a, b, _, _ = two_versions
    report(client, world.connector, outcome(experiment, a, "r-a", 1000, 100, 20), msg_id="m1")
    report(client, world.connector, outcome(experiment, b, "r-b", 800, 120, 40), msg_id="m2")
    facts_refresh()
    assert DraftFact.objects.filter(brand=world.brand).count() > 2  # the master has no outcomes
    strict = AlertRule.objects.create(name="CTR", metric="click_through_rate", direction="below", threshold=0.2,
                                      brand=world.brand, min_drafts=3, created_by=world.editor)
    assert alert_evaluate(rule_id=strict.pk) == "too_few"  # only two drafts have outcomes
    rule = AlertRule.objects.create(name="CTR low", metric="click_through_rate", direction="below", threshold=0.2,
                                    brand=world.brand, min_drafts=2, created_by=world.editor)
    assert alert_evaluate(rule_id=rule.pk) == "fired"
    rule.refresh_from_db()
    assert rule.last_value == pytest.approx(220 / 1800) and rule.last_n == 2


def test_another_brands_user_sees_none_of_a_brands_outcomes(client, world, two_versions):
    experiment, a, _, _, _ = two_versions
    report(client, world.connector, outcome(experiment, a, "r-a", 1000, 100, 20), msg_id="m1")
    facts_refresh()
    assert client.login(username="otto", password="pw")
    body = client.get(API).json()
    assert body["filters"]["brands"] == ["acme"] and body["summary"]["impressions"] == 0
    assert body["summary"]["click_through_rate"] is None
    assert client.get(API, {"brand": "northwind"}).status_code == 422
    html = client.get("/insights/").content.decode()
    outcomes = html.split('id="c-outcomes"')[1].split('id="t-breakdown"')[0]
    assert "No outcomes reported" in outcomes and "1,000" not in outcomes and "10.0%" not in outcomes
    assert client.get("/insights/", {"brand": "northwind"}).status_code == 400
