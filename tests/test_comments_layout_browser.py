"""The draft page's comments panel holds its controls at common widths: the "About" select and the new
comment's textarea stay inside their card, even with a long section heading. Saves screenshots to
var/test/screens/ (comments-panel-<width>.png)."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, build_world
from tests.helpers import draft_in_review

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"
LONG_HEADING = "What our roasters learned from three harvests of the same two farms in the highlands"


@pytest.mark.parametrize("width", [1280, 1400, 1920])
def test_the_about_select_and_the_textarea_stay_inside_the_comments_card(transactional_db, live_server, page: Page,
                                                                         width):
    world = build_world()
    draft = draft_in_review(world, content=f"## Short\n\nHello coffee lovers.\n\n## {LONG_HEADING}\n\nMore words.")
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(f"{live_server.url}/login/?next=/drafts/{draft.pk}/")
    page.get_by_label("Username").fill(world.editor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    card = page.locator("#comments")
    expect(card.locator("#nt-section")).to_be_visible()
    expect(card.locator("#nt-section option").last).to_contain_text(LONG_HEADING)

    box = card.bounding_box()
    for control in ("#nt-section", "#nt-body", ".new-thread .btn"):
        inner = card.locator(control).bounding_box()
        assert inner["x"] >= box["x"] and inner["x"] + inner["width"] <= box["x"] + box["width"] + 0.5, (
            control, width, inner, box)
    # The controls use the card's width rather than shrinking to nothing.
    assert card.locator("#nt-body").bounding_box()["width"] >= box["width"] * 0.8
    SHOTS.mkdir(parents=True, exist_ok=True)
    card.screenshot(path=SHOTS / f"comments-panel-{width}.png")
    page.screenshot(path=SHOTS / f"comments-page-{width}.png")
