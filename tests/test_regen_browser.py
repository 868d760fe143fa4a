"""In Debian's chromium, on the live stack: an editor rewrites a section with an instruction, watches the
new text stream into the proposal panel, reviews the diff and accepts it; an outline is edited with the
keyboard and approved, and the draft is then written from it. Screenshots go to var/test/screens/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect

from agents.models import AgentRun, PromptTemplateVersion
from editorial.models import Draft, Proposal
from tests.factories import PASSWORD, build_world
from tests.helpers import draft_in_review, file_brief

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"

TEXT = (
    "## Back for the season\n\nOur autumn roast is back, and it tastes the way a crisp October morning feels. "
    "We buy these beans from the same two farms every year.\n\n"
    "## How it tastes\n\nNotes of cherry and cocoa. It is a medium roast with a long finish.\n\n"
    "## Price\n\nTwelve euros for 250 g, in every shop."
)
NEW_TASTE = ("Baked plum, dark cocoa and a little orange peel, with a warm and gentle finish that lingers "
             "like a slow autumn afternoon.")


def sign_in(page: Page, url: str, username: str, then: str) -> None:
    page.goto(f"{url}/login/?next={then}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.wait_for_load_state("load")  # the page's scripts have attached their handlers


def test_an_editor_rewrites_a_section_watches_it_stream_and_accepts_the_diff(live_stack, page: Page):
    world = build_world()
    with transaction.atomic():  # in review by hand: its own pipeline never reaches the worker
        draft = draft_in_review(world, content=TEXT)
        AgentRun.objects.filter(draft=draft, kind="plan").update(status=AgentRun.Status.CANCELLED)
    live_stack.llm.tokens_per_second = 5  # slow enough to watch
    SHOTS.mkdir(parents=True, exist_ok=True)

    sign_in(page, live_stack.url, "eddie", f"/drafts/{draft.pk}/")
    page.get_by_role("button", name="Rewrite the section “How it tastes” with an instruction").click()
    expect(page.locator("#regen-section")).to_have_value("1")
    instruction = page.get_by_role("textbox", name="Instruction")
    expect(instruction).to_be_focused()
    instruction.fill(f"[[echo:{NEW_TASTE}]]")
    page.get_by_role("button", name="+ Warmer").click()
    expect(instruction).to_have_value(f"[[echo:{NEW_TASTE}]], warmer")
    page.screenshot(path=SHOTS / "regen-form.png")
    instruction.press("Control+Enter")

    card = page.locator(".proposal").first
    expect(card).to_contain_text("Proposed rewrite of “How it tastes”")
    stream = card.locator("[data-proposal-stream]")
    expect(stream).to_contain_text("Baked plum", timeout=30_000)  # words arrive live
    assert Proposal.objects.get().status == Proposal.Status.RUNNING  # seen while still being written
    card.screenshot(path=SHOTS / "regen-streaming.png")
    expect(page.locator("#reading")).to_contain_text("Notes of cherry and cocoa.")  # the draft is untouched

    expect(card.locator(".ps")).to_have_text("Ready to review", timeout=60_000)  # the panel swaps in the diff
    expect(card.locator("ins").first).to_contain_text("Baked plum")
    expect(card.locator("del").first).to_contain_text("Notes of cherry")
    card.scroll_into_view_if_needed()
    card.screenshot(path=SHOTS / "regen-proposal-diff.png")
    page.screenshot(path=SHOTS / "regen-draft-with-proposal.png", full_page=True)

    card.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("r2 is the current revision")).to_be_visible()
    expect(page.locator("#reading")).to_contain_text("Baked plum, dark cocoa")
    expect(page.locator("#reading")).not_to_contain_text("Notes of cherry")
    expect(page.locator(".proposal")).to_have_count(0)
    draft.refresh_from_db()
    assert draft.current_revision.number == 2 and draft.status == Draft.Status.IN_REVIEW


def test_an_outline_is_edited_with_the_keyboard_approved_and_the_draft_written(live_stack, page: Page):
    world = build_world(sections=2)
    old = world.template.active_version
    world.template.active_version = PromptTemplateVersion.objects.create(
        template=world.template, number=2, system_text=old.system_text, sections=old.sections,
        section_prompt=old.section_prompt, outline_checkpoint=True,
    )
    world.template.save()
    draft = file_brief(world, title="Autumn Ember is back")
    live_stack.llm.tokens_per_second = 8  # the confirmation stays on screen until the text is written
    SHOTS.mkdir(parents=True, exist_ok=True)

    sign_in(page, live_stack.url, "eddie", f"/drafts/{draft.pk}/")
    # The page follows the pipeline: once the plan is done it reloads into the outline editor.
    expect(page.locator("#draft-status")).to_have_text("Outline to approve", timeout=60_000)
    page.wait_for_load_state("load")
    form = page.locator("#outline-form")
    expect(form.locator(".outline-row")).to_have_count(2)
    assert not draft.runs.filter(kind="retrieve").exists()

    form.get_by_label("Heading of section 1").fill("Why Autumn Ember is back")
    form.get_by_role("button", name="+ Add a section").click()
    new_heading = form.get_by_label("Heading of section 3")
    expect(new_heading).to_be_focused()
    page.keyboard.type("Where to buy")
    page.keyboard.press("Tab")
    page.keyboard.type("Online and in every shop; give the opening hours.")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Alt+ArrowUp")  # moves the section, the focus stays in its heading
    expect(form.get_by_label("Heading of section 2")).to_have_value("Where to buy")
    expect(form.get_by_label("Heading of section 2")).to_be_focused()
    expect(page.locator("#outline-live")).to_have_text("“Where to buy” moved to position 2 of 3.")
    form.scroll_into_view_if_needed()
    page.locator("#outline").screenshot(path=SHOTS / "regen-outline-editor.png")

    form.get_by_role("button", name="Remove section 3").click()  # "Part 2"
    expect(form.locator(".outline-row")).to_have_count(2)
    expect(page.locator("#outline-count")).to_have_text("2 sections")

    # A heading left empty: the outline comes back as typed, with the reason next to the row.
    form.get_by_label("Heading of section 1").fill("")
    form.get_by_role("button", name="Approve outline and write the draft").click()
    expect(page.locator("#outline-error")).to_have_text("1 section needs fixing; nothing was approved.")
    row = page.locator(".outline-row.has-error")
    expect(row).to_contain_text("Give this section a heading")
    expect(page.get_by_label("Heading of section 1")).to_be_focused()
    expect(page.get_by_label("Heading of section 2")).to_have_value("Where to buy")
    page.locator("#outline").screenshot(path=SHOTS / "regen-outline-error.png")
    assert Draft.objects.get(pk=draft.pk).status == Draft.Status.OUTLINE_REVIEW
    page.wait_for_load_state("load")
    page.get_by_label("Heading of section 1").fill("Why Autumn Ember is back")
    page.get_by_role("button", name="Approve outline and write the draft").click()
    expect(page.get_by_text("Outline approved (2 sections)")).to_be_visible()
    expect(page.get_by_text("approved already")).to_have_count(0)  # sent once, not again by a reload
    expect(page.locator("#draft-status")).to_have_text("In review", timeout=60_000)
    headings = page.locator("#reading h2")
    expect(headings).to_have_count(2)
    expect(headings.nth(0)).to_contain_text("Why Autumn Ember is back")
    expect(headings.nth(1)).to_contain_text("Where to buy")
    page.screenshot(path=SHOTS / "regen-outline-written.png", full_page=True)
    plan = draft.runs.filter(kind="plan").latest("finished_at")
    assert plan.requested_by == world.editor and plan.output["sections"][1] == {
        "heading": "Where to buy", "instruction": "Online and in every shop; give the opening hours."}
    assert re.search(r"^## Where to buy$", Draft.objects.get(pk=draft.pk).current_revision.content, re.MULTILINE)
