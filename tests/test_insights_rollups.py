"""The daily rollups behind the Insights figures: the same figures as the fact rows (percentiles within
the stated histogram error), rebuilt only in the cells a refresh pass touched, at a query count that does not
grow with the period."""
from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from editorial.insights.facts import facts_refresh
from editorial.insights.metrics import DIMENSIONS, Filters, insights_compute, insights_compute_exact
from editorial.insights.models import DayRollup, DraftFact
from editorial.insights.rollups import (
    BUCKETS, KEY_FIELDS, PERCENTILE_ERROR, histogram_pack, histogram_dense, histogram_percentile, local_day,
)
from editorial.models import Draft
from editorial.transitions import draft_transition
from tests.insights_history import seed_busy_month

pytestmark = pytest.mark.django_db
PERCENTILE_KEYS = {"generation_p50_s", "generation_p95_s", "generation_p99_s", "approval_p50_s", "approval_p95_s",
                   "to_publish_p50_s", "p50_s", "p95_s"}


def assert_same_figures(approx: dict, exact: dict) -> None:
    assert approx.keys() == exact.keys()
    for key, value in exact.items():
        if value is None or isinstance(value, str):
            assert approx[key] == value, key
        elif key in PERCENTILE_KEYS:
            assert approx[key] == pytest.approx(value, rel=PERCENTILE_ERROR, abs=0.01), key
        else:
            assert approx[key] == pytest.approx(value, rel=1e-9), key


def assert_same_result(approx: dict, exact: dict) -> None:
    assert_same_figures(approx["summary"], exact["summary"])
    assert [r["period"] for r in approx["series"]] == [r["period"] for r in exact["series"]]
    for a, e in zip(approx["series"], exact["series"]):
        assert_same_figures(a, e)
    assert {r["key"] for r in approx["breakdown"]} == {r["key"] for r in exact["breakdown"]}
    exact_rows = {r["key"]: r for r in exact["breakdown"]}
    for row in approx["breakdown"]:
        assert_same_figures(row, exact_rows[row["key"]])
    assert len(approx["gates"]) == len(exact["gates"])
    for a, e in zip(approx["gates"], exact["gates"]):
        assert_same_figures(a, e)
    assert approx["reasons"] == exact["reasons"]
    assert approx["findings"] == exact["findings"]


def test_histogram_percentiles_stay_within_the_stated_error():
    rng = np.random.default_rng(3)
    for values in (rng.lognormal(4, 1.5, 5000), rng.uniform(20, 80, 101), np.array([60.0, 120.0, 500.0])):
        half = len(values) // 2  # two rows' histograms, concatenated as the database does
        hist = histogram_dense(histogram_pack(values[:half].tolist()) + histogram_pack(values[half:].tolist()))
        assert hist.sum() == len(values) and hist.shape == (BUCKETS,)
        for q in (0.5, 0.95, 0.99):
            exact = float(np.percentile(values, q * 100))  # linear: PERCENTILE_CONT
            assert abs(histogram_percentile(hist, q) - exact) <= PERCENTILE_ERROR * exact
    assert histogram_percentile(np.zeros(BUCKETS), 0.5) is None


def test_the_rollups_give_the_fact_rows_figures_for_every_breakdown_and_interval(world):
    seed_busy_month(world)
    facts_refresh(everything=True)
    end = timezone.localdate()
    for by in DIMENSIONS:
        for interval in ("day", "week"):
            filters = Filters(brands=[world.brand.pk, world.other_brand.pk], start=end - timedelta(days=40), end=end,
                              interval=interval, by=by)
            assert_same_result(insights_compute(filters), insights_compute_exact(filters))
    narrow = Filters(brands=[world.brand.pk], start=end - timedelta(days=10), end=end - timedelta(days=3),
                     model_version=world.model_version.pk, channel="blog")
    result = insights_compute(narrow)
    assert 0 < result["summary"]["drafts"] < 120
    assert_same_result(result, insights_compute_exact(narrow))


def test_a_refresh_pass_rebuilds_only_the_cell_of_the_draft_it_touched(world):
    seed_busy_month(world)
    Draft.objects.update(status_changed_at=timezone.now() - timedelta(days=1))
    facts_refresh(everything=True)
    cell = ("day", *KEY_FIELDS)
    before = {pk: tuple(rest) for pk, *rest in DayRollup.objects.values_list("pk", *cell)}
    draft = Draft.objects.filter(status=Draft.Status.IN_REVIEW).select_related("brief").first()
    with transaction.atomic():
        locked = Draft.objects.select_for_update().get(pk=draft.pk)
        draft_transition(draft=locked, to=Draft.Status.APPROVED, action="editorial.draft.approve", user=world.editor)
    assert facts_refresh() == 1
    after = {pk: tuple(rest) for pk, *rest in DayRollup.objects.values_list("pk", *cell)}
    fact = DraftFact.objects.filter(pk=draft.pk).values("created_at", *KEY_FIELDS).get()
    touched = (local_day(fact["created_at"]), *(fact[k] for k in KEY_FIELDS))
    assert {c for pk, c in before.items() if pk not in after} == {touched}
    assert {c for pk, c in after.items() if pk not in before} == {touched}
    assert len(after) == len(before) > 1
    end = timezone.localdate()
    filters = Filters(brands=[world.brand.pk], start=end - timedelta(days=40), end=end)
    approved = insights_compute(filters)
    assert_same_result(approved, insights_compute_exact(filters))
    assert approved["summary"]["approved"] == insights_compute_exact(filters)["summary"]["approved"]


def test_a_long_period_costs_the_same_queries_as_a_short_one(world):
    seed_busy_month(world, drafts=40, seed=random.Random(5).randint(0, 99))
    facts_refresh(everything=True)
    end = timezone.localdate()
    counts = []
    for days in (3, 730):
        with CaptureQueriesContext(connection) as captured:
            result = insights_compute(Filters(brands=[world.brand.pk], start=end - timedelta(days=days), end=end))
        counts.append(len(captured))
        assert result["summary"]["drafts"] > 0
    assert counts[0] == counts[1] <= 5
