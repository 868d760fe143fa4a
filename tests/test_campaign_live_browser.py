"""On the live stack (a real worker, uvicorn, the streaming test model): the campaign grid follows its
variants being written over their drafts' WebSockets, then shows them in review without a reload."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from editorial.campaigns.models import Campaign
from editorial.campaigns.services import campaign_create
from tests.campaign_helpers import grant, segments
from tests.factories import PASSWORD, build_world

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"


def test_the_grid_shows_live_progress_and_each_variant_reaching_review(live_stack, page: Page):
    world = build_world(sections=3)
    grant(world)
    live_stack.llm.tokens_per_second = 20  # slow enough to watch
    campaign = campaign_create(
        user=world.editor, brand=world.brand, name="Autumn roast", title="Autumn roast", goal="Announce the roast",
        audience="everyone", channel="blog", tone="warm", risk="low", template=world.template,
        segments=segments(world), channels=["blog"], mode=Campaign.Mode.PARALLEL,
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_stack.url}/login/?next=/campaigns/{campaign.pk}/")
    page.get_by_label("Username").fill("eddie")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Autumn roast")).to_be_visible()

    progress = page.locator("[data-progress-text]")
    expect(progress.first).to_contain_text(re.compile(r"[12]/3 sections"), timeout=60_000)  # pushed, not polled
    page.screenshot(path=str(SHOTS / "campaign-grid-live.png"), full_page=True)
    expect(page.locator("[data-status-pill]", has_text="In review")).to_have_count(2, timeout=120_000)
    expect(page.get_by_role("link", name="Review changes")).to_have_count(2)
    page.screenshot(path=str(SHOTS / "campaign-grid-in-review.png"), full_page=True)
