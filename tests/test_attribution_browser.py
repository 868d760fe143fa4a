"""The draft page's "who wrote what" toggle and the knowledge document's grounded pieces, in chromium."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from agents import knowledge
from agents.models import KnowledgeDocument
from editorial.editing import draft_edit
from editorial.models import Revision
from tests.factories import build_world, group_with
from tests.helpers import draft_in_review
from tests.test_grounding_browser import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"

AGENT = ("## Back for the season\n\nAutumn Ember is a medium-dark roast from Huila. It is roasted for 14 minutes "
         "and tastes of plum and cocoa.\n\n## How to brew it\n\nUse fifteen grams for a large cup and water just "
         "off the boil.")
EDITED = (AGENT.replace("water just off the boil", "water at 94 degrees")
          + "\n\nAsk our baristas for a tasting on Saturdays.")


def test_the_toggle_tints_agent_and_human_text_with_a_legend_from_the_keyboard(transactional_db, live_server,
                                                                              page: Page):
    world = build_world()
    group_with("editors", "agents.add_knowledgedocument")
    draft = draft_in_review(world, content=AGENT)
    document = KnowledgeDocument.objects.create(brand=world.brand, title="Roast notes", body="Roasted 14 minutes.")
    fact = "Autumn Ember is a medium-dark roast from Huila."
    start = AGENT.index(fact)
    Revision.objects.filter(pk=draft.current_revision_id).update(provenance={"model": "m", "sentences": [
        {"section": "Back for the season", "start": start, "end": start + len(fact), "chunk_id": 1,
         "document_id": document.pk, "title": "Roast notes", "score": 0.93, "supported": True, "matched": True,
         "factual": True, "snippet": "Roasted 14 minutes."}]})
    draft_edit(draft=draft, user=world.editor, base_revision_id=draft.current_revision_id, content=EDITED)
    knowledge.document_expire(user=world.editor, document=document)

    page.set_viewport_size({"width": 1280, "height": 1000})
    sign_in(page, live_server.url, "eddie", f"/drafts/{draft.pk}/")
    expect(page.locator("#sources-changed")).to_contain_text("Roast notes")
    toggle = page.locator("#attribution-toggle")
    expect(toggle).to_have_text("Show who wrote what")
    tinted = page.locator("#reading-attribution")
    expect(tinted).to_be_hidden()
    for _ in range(80):  # reach the toggle with the keyboard alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.hasAttribute('data-attribution-toggle')"):
            break
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    expect(tinted).to_be_visible()
    expect(page.locator("#reading")).to_be_hidden()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_have_text("Hide who wrote what")
    legend = page.locator("#attribution-legend")
    expect(legend).to_be_visible()
    expect(legend).to_contain_text("Written by a person")
    expect(legend).to_contain_text("Agent text rewritten by a person")
    expect(tinted.locator(".attr-human")).to_contain_text("Ask our baristas for a tasting on Saturdays.")
    expect(tinted.locator(".attr-edited")).to_have_text("at 94 degrees")
    expect(tinted.locator("h2 .attr-agent").first).to_have_text("Back for the season")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "attribution-toggle.png", full_page=True)
    page.keyboard.press("Space")
    expect(tinted).to_be_hidden()
    expect(page.locator("#reading")).to_be_visible()

    page.goto(f"{live_server.url}/knowledge/{world.brand.slug}/{document.pk}/")
    expect(page.locator("#pieces")).to_contain_text(draft.title)
    expect(page.locator("#pieces .sources-changed")).to_be_visible()
    page.screenshot(path=SHOTS / "knowledge-pieces.png", full_page=True)
