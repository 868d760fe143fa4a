"""In Debian's chromium, driven by Playwright: a requester files a brief and watches the text
stream in; an editor approves it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from editorial.models import Draft
from tests.factories import PASSWORD, build_world

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()


def test_a_requester_files_a_brief_and_watches_the_draft_being_written(live_stack, page: Page):
    world = build_world(sections=3)
    live_stack.llm.tokens_per_second = 12  # slow enough to watch
    SHOTS.mkdir(parents=True, exist_ok=True)

    sign_in(page, live_stack.url, "rita")
    page.get_by_role("link", name="New brief").first.click()
    page.get_by_label("Title").fill("Autumn Ember is back")
    page.get_by_label("Goal").fill("Announce the return of our autumn roast")
    page.get_by_label("Audience").fill("coffee lovers")
    page.get_by_label("Risk").select_option("low")
    page.screenshot(path=SHOTS / "brief-form.png", full_page=True)
    page.get_by_role("button", name="File brief and start drafting").click()

    expect(page).to_have_url(re.compile(r"/drafts/\d+/$"))
    expect(page.locator("#draft-status")).to_have_text("Generating")
    first = page.locator(".live-section .live-text").first
    expect(first).to_contain_text(re.compile(r"w\d+"), timeout=30_000)  # tokens arrive live
    expect(page.locator("#progress-text")).to_contain_text("tokens")
    page.screenshot(path=SHOTS / "draft-streaming.png", full_page=True)
    assert Draft.objects.get().status == Draft.Status.GENERATING  # seen while still being written

    # when the check step finishes, the page turns into the reading view by itself
    expect(page.locator("#draft-status")).to_have_text("In review", timeout=60_000)
    expect(page.locator("#reading h2")).to_have_count(3)
    page.screenshot(path=SHOTS / "draft-in-review.png", full_page=True)

    page.context.clear_cookies()
    sign_in(page, live_stack.url, "eddie")
    page.get_by_role("link", name="Autumn Ember is back").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Editorial: approve recorded.")).to_be_visible()
    expect(page.locator("#draft-status")).to_have_text("Approved")
    expect(page.get_by_role("button", name="Publish")).to_be_visible()
    page.screenshot(path=SHOTS / "draft-approved.png", full_page=True)


def test_reloading_mid_generation_shows_what_is_written_and_keeps_following(live_stack, page: Page):
    world = build_world(sections=2)
    live_stack.llm.tokens_per_second = 10
    live_stack.llm.tokens_per_reply = 30
    from tests.helpers import file_brief
    from django.db import transaction

    with transaction.atomic():
        draft = file_brief(world)
    sign_in(page, live_stack.url, "eddie")
    page.goto(f"{live_stack.url}/drafts/{draft.pk}/")
    text = page.locator(".live-section .live-text").first
    expect(text).to_contain_text(re.compile(r"(w\d+ ){3}"), timeout=30_000)
    page.reload()
    # the checkpointed text is there at once, then it keeps growing
    expect(text).to_contain_text(re.compile(r"(w\d+ ){3}"), timeout=3_000)
    before = len(text.inner_text())
    expect(text).not_to_have_text(text.inner_text(), timeout=10_000)
    assert len(text.inner_text()) >= before
