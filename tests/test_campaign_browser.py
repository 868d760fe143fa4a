"""The campaign grid and a variant's diff against its master in Debian's chromium. Saves screenshots
to var/test/screens/."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from editorial.campaigns.models import InheritedGate
from tests.campaign_helpers import MASTER, approve_master, campaign_world, variants_written
from tests.factories import PASSWORD, build_world

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"

STUDENTS = MASTER.replace("It tastes like a crisp October morning.",
                          "It tastes like a quiet study break between two lectures.").replace(
    "Order today in any of our shops.", "Students get ten percent off with their card.")
FAMILIES = MASTER.replace("Order today in any of our shops.", "Quality guaranteed for the whole family.")


@pytest.fixture
def campaign(transactional_db, live_server):
    world = build_world()
    cw = campaign_world(world, channels=("blog", "newsletter"))
    InheritedGate.objects.create(gate=world.gates["editorial"])
    approve_master(cw)
    texts = {"Students": STUDENTS, "Families": FAMILIES}
    variants_written(cw, texts)
    return live_server.url, cw


def sign_in(page: Page, url: str, username: str, then: str) -> None:
    page.goto(f"{url}/login/?next={then}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.wait_for_load_state("load")


def test_a_reviewer_opens_a_variants_diff_from_the_campaign_grid(campaign, page: Page):
    url, cw = campaign
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, url, "eddie", f"/campaigns/{cw.campaign.pk}/")
    expect(page.get_by_role("heading", name="Autumn roast")).to_be_visible()
    grid = page.locator("table.campaign-grid")
    expect(grid.locator("[data-variant-draft]")).to_have_count(4)
    page.get_by_role("checkbox").first.check()
    expect(page.locator("#ticked")).to_have_text("1 ticked")
    page.screenshot(path=str(SHOTS / "campaign-grid.png"), full_page=True)

    grid.get_by_role("row", name="Students").get_by_role("link", name="Review changes").first.click()
    expect(page.get_by_role("heading", name="What changed for Students")).to_be_visible()
    diff = page.locator("#diff")
    expect(diff.locator("del", has_text="crisp October morning")).to_be_visible()
    expect(diff.locator("ins", has_text="quiet study break between two lectures")).to_be_visible()
    expect(page.locator(".gate-note")).to_contain_text("Inherited from the master")
    page.screenshot(path=str(SHOTS / "variant-diff.png"), full_page=True)

    page.get_by_text("Side by side").click()
    expect(page.locator(".diff.side")).to_be_visible()
    page.screenshot(path=str(SHOTS / "variant-diff-side.png"), full_page=True)


def test_a_variant_whose_changes_raise_a_finding_says_why_it_needs_its_own_sign_off(campaign, page: Page):
    url, cw = campaign
    families = cw.campaign.variants.filter(segment__name="Families", channel="blog").get()
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, url, "eddie", f"/campaigns/variants/{families.pk}/")
    expect(page.locator(".gate-note")).to_contain_text("Needs its own sign-off")
    expect(page.locator(".new-findings")).to_contain_text("guaranteed")
    page.screenshot(path=str(SHOTS / "variant-own-signoff.png"), full_page=True)


def test_the_experiment_segments_and_new_campaign_pages(campaign, page: Page):
    from editorial.campaigns.experiments import experiment_create
    from editorial.campaigns.models import OutcomeReport

    url, cw = campaign
    a = cw.campaign.variants.get(segment__name="Students", channel="blog")
    b = cw.campaign.variants.get(segment__name="Students", channel="newsletter")
    # two arms of one audience need the same channel; move B there for the picture
    type(b).objects.filter(pk=b.pk).update(channel="blog", arm="B")
    b.refresh_from_db()
    experiment = experiment_create(user=cw.world.editor, campaign=cw.campaign, name="Student headline",
                                   variants=[a, b], shares=[50, 50])
    for variant, conversions in ((a, 200), (b, 250)):
        OutcomeReport.objects.create(report_id=f"r{variant.pk}", experiment=experiment, variant=variant,
                                     connector=cw.world.connector, impressions=1000, clicks=300,
                                     conversions=conversions)
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, url, "eddie", f"/campaigns/experiments/{experiment.pk}/")
    expect(page.get_by_role("cell", name="+25.0%")).to_be_visible()
    expect(page.get_by_text("significant", exact=True)).to_be_visible()
    page.screenshot(path=str(SHOTS / "experiment.png"), full_page=True)
    page.get_by_role("link", name="Click rate").click()
    expect(page.get_by_text("not significant")).to_be_visible()

    page.goto(f"{url}/campaigns/segments/")
    expect(page.get_by_role("cell", name="Students")).to_be_visible()
    page.screenshot(path=str(SHOTS / "segments.png"), full_page=True)
    page.goto(f"{url}/campaigns/new/")
    page.get_by_role("button", name="File the campaign").click()
    expect(page.locator(".field-error").first).to_be_visible()
    page.screenshot(path=str(SHOTS / "campaign-new-errors.png"), full_page=True)
