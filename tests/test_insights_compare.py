"""Version comparison statistics: the right interval for shares, a bootstrap for the rest, and no
difference claimed from too few drafts."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from agents.models import ModelVersion
from editorial.insights.compare import MIN_N, newcombe, versions_compare
from editorial.insights.metrics import Filters
from editorial.insights.models import DraftFact
from editorial.models import Brief, Draft

FILED = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def test_newcombes_interval_matches_the_published_example():
    # Newcombe (1998), table II, example (a): 56/70 against 48/80 → 0.1750 (0.0524 to 0.3339), method 10.
    low, high = newcombe(48, 80, 56, 70)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def facts(world, model: ModelVersion, n: int, *, edited_every: int, generation_s: float, cost: str) -> None:
    for i in range(n):
        brief = Brief.objects.create(brand=world.brand, title=f"{model.name} {i}", goal="g", audience="a",
                                     channel="blog", tone="t", template=world.template, requested_by=world.requester)
        draft = Draft.objects.create(brief=brief, brand=world.brand, title=brief.title, model_version=model)
        DraftFact.objects.create(
            draft=draft, brand=world.brand, model_version=model, template=world.template, channel="blog",
            created_at=FILED, status="approved", approved=True, edited=(i % edited_every == 0),
            edit_share=0.1, generation_s=generation_s + i % 5, cost=Decimal(cost), words=100,
        )


@pytest.mark.django_db
def test_a_clear_difference_over_enough_drafts_is_significant_and_says_which_is_better(world):
    challenger = ModelVersion.objects.create(name="Challenger", base_url="http://127.0.0.1:9/v1", model="m")
    facts(world, world.model_version, 40, edited_every=1, generation_s=60, cost="0.20")  # every draft edited
    facts(world, challenger, 40, edited_every=10, generation_s=30, cost="0.20")  # one in ten
    rows = {r.metric.key: r for r in versions_compare(
        filters=Filters(brands=[world.brand.pk], start=date(2026, 11, 1), end=date(2026, 11, 30)),
        dimension="model_version", a=world.model_version.pk, b=challenger.pk)}
    edit = rows["edit_rate"]
    assert (edit.a, edit.b, edit.n_a, edit.n_b) == (1.0, 0.1, 40, 40)
    assert edit.significant and edit.high < 0 and edit.better == "b"
    speed = rows["generation_p50_s"]
    assert speed.diff == pytest.approx(-30) and speed.significant and speed.better == "b"
    assert speed.low <= -30 <= speed.high
    cost = rows["cost_per_draft"]
    assert cost.diff == pytest.approx(0) and not cost.significant and cost.note == "not significant"


@pytest.mark.django_db
def test_the_same_gap_over_too_few_drafts_is_not_called_a_difference(world):
    challenger = ModelVersion.objects.create(name="Challenger", base_url="http://127.0.0.1:9/v1", model="m")
    facts(world, world.model_version, 3, edited_every=1, generation_s=60, cost="0.20")
    facts(world, challenger, 3, edited_every=10, generation_s=30, cost="0.20")
    rows = {r.metric.key: r for r in versions_compare(
        filters=Filters(brands=[world.brand.pk], start=date(2026, 11, 1), end=date(2026, 11, 30)),
        dimension="model_version", a=world.model_version.pk, b=challenger.pk)}
    edit = rows["edit_rate"]
    assert edit.diff == pytest.approx(1 / 3 - 1) and not edit.significant and edit.better == ""
    assert edit.note == f"too few drafts to tell (n = 3 and 3; {MIN_N} needed on each side)"
