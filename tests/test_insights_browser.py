"""The Insights page in Debian's chromium: charts drawn under the strict CSP rules (no inline script),
a filter changed through htmx, two versions compared. Saves screenshots to var/test/screens/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from editorial.insights.facts import facts_refresh
from tests.factories import PASSWORD, build_world
from tests.insights_history import seed_busy_month

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"


@pytest.fixture
def month(transactional_db, live_server):
    world = build_world()
    challenger = seed_busy_month(world)
    facts_refresh(everything=True)
    return world, challenger, live_server.url


def test_an_editor_filters_the_insights_and_compares_two_model_versions(page: Page, month):
    world, challenger, url = month
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{url}/login/?next=/insights/")
    page.get_by_label("Username").fill(world.editor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("log in|sign in", re.I)).click()
    expect(page.locator("body[data-charts-drawn='7']")).to_be_attached()
    expect(page.locator(".ins-tile").first).to_contain_text("120")
    page.screenshot(path=SHOTS / "insights-page.png", full_page=True)

    page.locator("select[name=model_version]").select_option(label="Challenger")
    expect(page).to_have_url(re.compile(rf"model_version={challenger.pk}"))
    expect(page.locator(".ins-tile").first).to_contain_text("60")
    expect(page.locator("body[data-charts-drawn='7']")).to_be_attached()
    page.locator("select[name=model_version]").select_option(label="Any model version")
    expect(page.locator(".ins-tile").first).to_contain_text("120")

    form = page.get_by_role("form", name="Compare model version")
    form.get_by_label("Model version A").select_option(label="Settings model")
    form.get_by_label("Model version B").select_option(label="Challenger")
    form.get_by_role("button", name="Compare model versions").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Settings model vs Challenger")
    edit = page.get_by_role("row", name=re.compile("Edit rate"))
    expect(edit).to_contain_text("B better")
    expect(page.get_by_role("row", name=re.compile("Generation, brief → review \\(p50\\)"))).to_contain_text("B better")
    page.screenshot(path=SHOTS / "insights-compare.png", full_page=True)
    assert errors == []


def test_the_outcomes_section_charts_experiment_rates_per_version_and_the_comparison_calls_them(page: Page, month):
    """Outcome figures on the published pieces (as the refresh leaves them from the CMS's reports): the
    Challenger's readers click more. The rollups are rebuilt from those facts, as a refresh pass does."""
    from django.db import transaction

    from editorial.insights.models import DraftFact
    from editorial.insights.rollups import rollups_rebuild

    world, challenger, url = month
    totals = {True: [0, 0], False: [0, 0]}  # challenger? → impressions, clicks
    for i, fact in enumerate(DraftFact.objects.filter(status="published").order_by("pk")):
        impressions = 400 + 10 * (i % 7)
        new = fact.model_version_id == challenger.pk
        clicks = int(impressions * (0.12 if new else 0.08))
        DraftFact.objects.filter(pk=fact.pk).update(impressions=impressions, clicks=clicks, conversions=clicks // 4)
        totals[new][0] += impressions
        totals[new][1] += clicks
    ctr = {new: f"{100 * c / n:.1f}%" for new, (n, c) in totals.items()}
    with transaction.atomic():
        rollups_rebuild()
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{url}/login/?next=/insights/")
    page.get_by_label("Username").fill(world.editor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("log in|sign in", re.I)).click()
    expect(page.locator("body[data-charts-drawn='9']")).to_be_attached()
    outcomes = page.locator("section.ins-outcomes")
    expect(outcomes.get_by_role("row", name=re.compile("Challenger"))).to_contain_text(ctr[True])
    expect(outcomes.get_by_role("row", name=re.compile("Settings model"))).to_contain_text(ctr[False])
    outcomes.scroll_into_view_if_needed()
    outcomes.screenshot(path=SHOTS / "insights-outcomes.png")

    form = page.get_by_role("form", name="Compare model version")
    form.get_by_label("Model version A").select_option(label="Settings model")
    form.get_by_label("Model version B").select_option(label="Challenger")
    form.get_by_role("button", name="Compare model versions").click()
    expect(page.get_by_role("row", name=re.compile("Click-through rate"))).to_contain_text("B better")
    page.get_by_role("row", name=re.compile("Click-through rate")).scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "insights-compare-outcomes.png", full_page=True)
    assert errors == []
