"""The draft desk in Debian's chromium: the diff layouts, the timeline, the keyboard shortcuts and
the copy of the editor's text kept in the browser. Saves screenshots to var/test/screens/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from editorial.editing import draft_edit
from editorial.models import Revision
from tests.factories import PASSWORD, build_world
from tests.helpers import draft_in_review

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"

BODY = [
    "Our autumn roast is back, and it tastes the way a crisp October morning feels.",
    "We buy these beans from the same two farms every year. The harvest was late, the cherries ripe.",
    "Roasting happens in small batches on Tuesdays, so what reaches you is never older than a week.",
    "Grind it just before brewing; a medium grind suits a filter, a finer one an espresso machine.",
    "Water just off the boil, about ninety-four degrees, brings out the sweetness without bitterness.",
    "Share a cup with someone. That is the whole point of an autumn roast.",
]


def article(*, taste: str, price: str, extra: str = "") -> str:
    return "\n\n".join([
        "## Back for the season", *BODY, "## How it tastes", taste, *BODY[:3],
        "## Price and availability", price, *([extra] if extra else []),
    ])


@pytest.fixture
def desk(transactional_db, live_server):
    world = build_world()
    draft = draft_in_review(world, content=article(
        taste="Notes of cherry, cocoa and a little orange peel.", price="Twelve euros for 250 g, in every shop."))
    Revision.objects.filter(pk=draft.current_revision_id).update(provenance={
        "model": "test-model", "model_version": {"id": world.model_version.pk, "name": "Settings model"},
        "prompt_template_version": {"id": 1, "label": "Blog post v1"}, "cost": "0.000412",
    })
    draft_edit(draft=draft, user=world.editor, note="Warmer tasting notes",
               content=article(taste="Notes of baked plum, cocoa and a little orange peel.",
                               price="Twelve euros for 250 g, in every shop."),
               base_revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    draft_edit(draft=draft, user=world.editor, note="Price from the shop team",
               content=article(taste="Notes of baked plum, cocoa and a little orange peel.",
                               price="Eleven euros for 250 g, online and in our shops.",
                               extra="## Where to buy\n\nOrder online or ask in any of our shops."),
               base_revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    return live_server.url, draft


def sign_in(page: Page, url: str, username: str, then: str) -> None:
    page.goto(f"{url}/login/?next={then}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.wait_for_load_state("load")  # the page's scripts have attached their handlers


def test_the_diff_views_and_the_timeline_look_right(desk, page: Page):
    url, draft = desk
    first = draft.revisions.get(number=1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, url, "eddie", f"/drafts/{draft.pk}/diff/?a={first.pk}%26b={draft.current_revision_id}%26view=side")
    expect(page.locator(".diff.side")).to_be_visible()
    expect(page.locator(".diff-summary")).to_contain_text("sections changed (1 added)")
    fold = page.locator("details.fold").first
    expect(fold.locator("summary")).to_contain_text(re.compile(r"⋯ \d+ unchanged lines"))
    page.screenshot(path=SHOTS / "diff-side.png", full_page=True)
    fold.locator("summary").click()  # the expander opens without any script of ours
    expect(fold).to_have_attribute("open", "")

    page.get_by_text("Inline", exact=True).click()  # htmx swaps the diff; the URL follows
    expect(page.locator(".diff.inline")).to_be_visible()
    expect(page).to_have_url(re.compile(r"view=inline"))
    page.screenshot(path=SHOTS / "diff-inline.png", full_page=True)

    page.goto(f"{url}/drafts/{draft.pk}/")
    timeline = page.locator("section:has(#revs-h)")
    expect(timeline).to_contain_text("Edited by Eddie from r2")
    expect(timeline).to_contain_text("test-model (Settings model) · Blog post v1 · $0.000412")
    timeline.scroll_into_view_if_needed()
    timeline.screenshot(path=SHOTS / "draft-timeline.png")
    page.locator("#changes").get_by_text("Side by side", exact=True).click()
    expect(page.locator("#changes .diff.side")).to_be_visible()
    page.screenshot(path=SHOTS / "draft-changes-side.png", full_page=True)
    # Restoring is in tests/test_desk_flows_browser.py.


def test_keyboard_shortcuts_on_the_draft_page(desk, page: Page):
    url, draft = desk
    sign_in(page, url, "eddie", f"/drafts/{draft.pk}/")
    expect(page.get_by_role("button", name="Shortcuts")).to_be_visible()  # keys.js has run
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_be_visible()
    page.screenshot(path=SHOTS / "draft-shortcuts.png")
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).to_be_hidden()

    page.locator("textarea[name=comment]").first.focus()
    page.keyboard.press("a")  # typed into the comment, not a command
    expect(page.locator("textarea[name=comment]").first).to_have_value("a")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("a")  # asks first (tests/test_desk_flows_browser.py approves)
    expect(page.get_by_role("dialog", name="Approve the Editorial gate?")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#draft-status")).to_have_text("In review")  # asked, not submitted

    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("e")
    expect(page).to_have_url(re.compile(rf"/drafts/{draft.pk}/edit/$"))


def test_the_editors_text_survives_a_reload_and_is_dropped_once_saved(desk, page: Page):
    url, draft = desk
    sign_in(page, url, "eddie", f"/drafts/{draft.pk}/edit/")
    page.wait_for_url(re.compile(rf"/drafts/{draft.pk}/edit/$"))
    page.wait_for_load_state("load")  # the backup script listens from here on
    page.locator("#id_content").fill("My words, not yet saved.")
    page.wait_for_timeout(600)  # the copy is written 300 ms after the last keystroke
    page.reload()
    expect(page.locator("#id_content")).to_have_value("My words, not yet saved.")
    expect(page.locator("#local-copy-note")).to_contain_text("was restored from this browser")
    page.screenshot(path=SHOTS / "edit-restored-copy.png")
    page.get_by_role("button", name="Save as new revision").click()
    expect(page.get_by_text("Saved as a new revision.")).to_be_visible()
    key = f"aios:edit-copy:{draft.pk}"
    # The message is server-rendered; the page's script drops the copy once it runs.
    page.wait_for_function(f"localStorage.getItem('{key}') === null", timeout=5_000)
    page.goto(f"{url}/drafts/{draft.pk}/edit/")
    expect(page.locator("#id_content")).to_have_value("My words, not yet saved.")  # the saved revision
    expect(page.locator("#local-copy-note")).to_be_empty()


def test_a_restored_copy_based_on_an_older_revision_leads_to_the_conflict_view_not_an_overwrite(desk, page: Page):
    url, draft = desk
    sign_in(page, url, "eddie", f"/drafts/{draft.pk}/edit/")
    page.locator("#id_content").fill("My words, based on r3.")
    page.wait_for_timeout(500)
    draft.refresh_from_db()
    draft_edit(draft=draft, user=draft.revisions.get(number=2).author_user, content="Someone else's r4.",
               base_revision_id=draft.current_revision_id)
    page.reload()
    expect(page.locator("#local-copy-note")).to_contain_text("It was based on r3; r4 has been saved since")
    page.get_by_role("button", name="Save as new revision").click()
    expect(page.get_by_text("Someone saved revision 4 while you were editing")).to_be_visible()
    expect(page.locator("#id_content")).to_have_value("My words, based on r3.")
    assert draft.revisions.count() == 4
