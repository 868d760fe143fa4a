"""The editor's flows on the draft page in Debian's chromium: compare two revisions picked in the
timeline, restore an old revision, approve with the keyboard. Uses the three-revision draft of
tests/test_desk_browser.py (r1 → r2 warmer tasting notes → r3 new price and a "Where to buy" section).
Saves screenshots to var/test/screens/."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from editorial.models import Draft, Revision
from governance.models import SignOff
from tests.test_desk_browser import SHOTS, desk, sign_in  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_picking_two_revisions_in_the_timeline_shows_their_diff(desk, page: Page):  # noqa: F811
    url, draft = desk
    r1, r2, _r3 = draft.revisions.order_by("number")
    sign_in(page, url, "eddie", f"/drafts/{draft.pk}/")
    timeline = page.locator("section:has(#revs-h)")
    # By default the timeline picks what the Changes card shows (r2 → r3); pick r1 → r2 instead.
    expect(timeline.get_by_label("Compare from r2", exact=True)).to_be_checked()
    expect(timeline.get_by_label("Compare to r3", exact=True)).to_be_checked()
    timeline.get_by_label("Compare from r1", exact=True).check()
    timeline.get_by_label("Compare to r2", exact=True).check()
    SHOTS.mkdir(parents=True, exist_ok=True)
    timeline.screenshot(path=SHOTS / "timeline-compare-picks.png")
    timeline.get_by_role("button", name="Compare selected").click()

    expect(page).to_have_url(re.compile(rf"/drafts/{draft.pk}/diff/\?(?=.*\ba={r1.pk}\b)(?=.*\bb={r2.pk}\b)"))
    expect(page.locator(".diff-summary")).to_contain_text("r1 → r2")
    expect(page.locator(".diff-summary")).to_contain_text("1 section changed")
    expect(page.locator("#diff del")).to_have_text(["cherry"])
    expect(page.locator("#diff ins")).to_have_text(["baked plum"])
    expect(page.locator("#diff-a")).to_have_value(str(r1.pk))  # the pickers agree with the timeline
    expect(page.locator("#diff-b")).to_have_value(str(r2.pk))
    page.screenshot(path=SHOTS / "timeline-compare-diff.png", full_page=True)


def test_restoring_an_old_revision_puts_it_on_top_and_overwrites_nothing(desk, page: Page):  # noqa: F811
    url, draft = desk
    before = {r.number: (r.pk, r.content, r.content_hash) for r in draft.revisions.all()}
    sign_in(page, url, "eddie", f"/drafts/{draft.pk}/")
    timeline = page.locator("section:has(#revs-h)")
    page.once("dialog", lambda dialog: dialog.accept())  # "Restore r1? … Nothing is deleted."
    timeline.get_by_role("button", name="Restore r1").click()

    expect(page.get_by_text("Restored r1 as the new revision r4; nothing was deleted.")).to_be_visible()
    top = page.locator(".timeline > li").first
    expect(top).to_contain_text("r4")
    expect(top).to_contain_text("current")
    expect(top).to_contain_text("Restored by Eddie from r1")
    expect(page.locator(".timeline > li")).to_have_count(4)
    expect(page.locator(".timeline > li .tl-head strong")).to_have_text(["r4", "r3", "r2", "r1"])
    expect(page.locator("#reading")).to_contain_text("Notes of cherry, cocoa and a little orange peel.")
    expect(page.locator("#reading")).not_to_contain_text("baked plum")
    expect(page.locator("#reading")).not_to_contain_text("Where to buy")
    page.screenshot(path=SHOTS / "restored-r1.png", full_page=True)

    draft.refresh_from_db()
    restored = draft.current_revision
    assert restored.number == 4 and restored.content == before[1][1] and restored.parent_id == before[3][0]
    after = {r.number: (r.pk, r.content, r.content_hash) for r in Revision.objects.filter(draft=draft, number__lt=4)}
    assert after == before  # every earlier revision as it was


def test_approving_with_the_keyboard_asks_first_and_signs_the_gate(desk, page: Page):  # noqa: F811
    url, draft = desk
    sign_in(page, url, "eddie", f"/drafts/{draft.pk}/")
    shortcuts = page.get_by_role("button", name="Shortcuts")
    expect(shortcuts).to_be_visible()  # keys.js has run
    page.locator("textarea[name=comment]").first.fill("Reads well")  # the Editorial gate's comment

    # Esc cancels, sends nothing, and gives the focus back.
    shortcuts.focus()
    page.keyboard.press("a")
    confirm = page.get_by_role("dialog", name="Approve the Editorial gate?")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("for revision r3")
    expect(confirm).to_contain_text("With your comment: “Reads well”")
    expect(confirm.get_by_role("button", name="Approve r3")).to_be_focused()
    page.screenshot(path=SHOTS / "approve-confirm.png")
    page.keyboard.press("Tab")  # the rest of the page is inert: the focus stays in the dialog
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    expect(shortcuts).to_be_focused()
    assert not SignOff.objects.filter(draft=draft).exists()
    expect(page.locator("#draft-status")).to_have_text("In review")

    # `a` typed into a field is text.
    page.locator("textarea[name=comment]").first.press("End")
    page.keyboard.type(" and is accurate")
    expect(confirm).to_be_hidden()

    # a, then Enter: signed.
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("a")
    expect(confirm).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Editorial: approve recorded.")).to_be_visible()
    gate = page.locator(".gates li.gate").first
    expect(gate).to_contain_text("Editorial")
    expect(gate.locator(".pill.gs")).to_have_text("Approved")
    expect(page.locator("#draft-status")).to_have_text("Approved")
    signoff = SignOff.objects.get(draft=draft)
    assert (signoff.decision, signoff.user.username, signoff.revision_id, signoff.comment) == (
        "approve", "eddie", draft.current_revision_id, "Reads well and is accurate")

    # Nothing left to approve: the key says why.
    page.wait_for_load_state("load")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("a")
    expect(page.get_by_role("alert")).to_have_text(
        "Nothing for you to approve here: it is “Approved”, not in review.")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_contain_text("(nothing for you to approve here)")
    assert Draft.objects.get(pk=draft.pk).status == "approved" and SignOff.objects.count() == 1
