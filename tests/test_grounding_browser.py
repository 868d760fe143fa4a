"""Sentence sources in the reading view, and the knowledge page, in Debian's chromium."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from agents.grounding import split_sentences
from editorial.models import Revision
from tests.factories import PASSWORD, build_world, group_with
from tests.helpers import draft_in_review

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"

CONTENT = ("## Back for the season\n\nAutumn Ember is a medium-dark roast from Huila. "
           "It won 7 awards in 2019.\n\n## Next\n\nCome and taste it.")


def sign_in(page: Page, url: str, username: str, then: str) -> None:
    page.goto(f"{url}/login/?next={then}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.wait_for_load_state("load")


def test_a_sentence_shows_its_source_on_keyboard_focus_and_unsupported_ones_are_marked(
    transactional_db, live_server, page: Page
):
    world = build_world()
    draft = draft_in_review(world, content=CONTENT)
    links = []
    for s in split_sentences(CONTENT):
        text = CONTENT[s.start:s.end]
        invented = "awards" in text
        links.append({"section": s.section, "start": s.start, "end": s.end, "chunk_id": 5, "document_id": 3,
                      "title": "Roast <facts>", "snippet": "Autumn Ember is a medium-dark roast from Huila.",
                      "score": 0.31 if invented else 0.97, "supported": not invented, "matched": not invented,
                      "factual": True})
    Revision.objects.filter(pk=draft.current_revision_id).update(provenance={"model": "m", "sentences": links})

    sign_in(page, live_server.url, "eddie", f"/drafts/{draft.pk}/")
    first = page.locator("#reading .sent").first
    tip = page.locator("#src-tip-0")
    expect(tip).to_be_hidden()
    for _ in range(80):  # reach the first sentence with the keyboard alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('sent')"):
            break
    expect(first).to_be_focused()
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Source: Roast <facts> (score 0.97)")
    assert first.get_attribute("aria-describedby") == "src-tip-0"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "sentence-source.png")
    page.keyboard.press("Tab")
    unsupported = page.locator("#reading .sent.unsupported")
    expect(unsupported).to_be_focused()
    expect(page.locator("#src-tip-1")).to_contain_text("Unsupported: no source backs this claim")
    page.locator("#reading .sent").nth(2).hover()
    expect(page.locator("#src-tip-2")).to_be_visible()


def test_an_editor_uploads_an_html_file_on_the_knowledge_page(transactional_db, live_server, page: Page, tmp_path):
    world = build_world()
    group_with("editors", "agents.add_knowledgedocument")
    upload = tmp_path / "hours.html"
    upload.write_text("<h1>Hours</h1><p>Open daily from 7 am.</p><script>alert(1)</script>")
    sign_in(page, live_server.url, "eddie", f"/knowledge/{world.brand.slug}/")
    page.get_by_label("Title").fill("Opening hours")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_label("Expires on (optional)").fill("2099-01-31")
    page.get_by_role("button", name="Add to the knowledge base").click()
    expect(page.get_by_role("status")).to_contain_text("Added “Opening hours” (1 chunk)")
    row = page.locator("tr", has_text="Opening hours")
    expect(row).to_contain_text("html")
    expect(row).to_contain_text("used until 2099-01-31")
    page.screenshot(path=SHOTS / "knowledge.png", full_page=True)
    page.get_by_role("button", name="Expire Opening hours now").click()
    expect(page.locator("tr", has_text="Opening hours")).to_contain_text("expired")
