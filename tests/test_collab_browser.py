"""Comments and notifications in Debian's chromium, on the live stack (uvicorn + Channels on Valkey):
an editor selects text, presses c, comments with an @mention, and the mentioned reviewer's badge,
open in another browser, goes up without a reload. Saves screenshots to var/test/screens/."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from editorial.editing import draft_edit
from editorial.models import CommentThread, Notification
from tests.factories import PASSWORD, build_world
from tests.helpers import draft_in_review

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"

ARTICLE = "\n\n".join([  # noqa: FLY002 - one paragraph a line reads better
    "## Back for the season",
    "Our autumn roast is back, and it tastes the way a crisp October morning feels.",
    "We buy these beans from the same two farms every year. The harvest was late, the cherries ripe.",
    "## How it tastes",
    "Notes of baked plum, cocoa and a little orange peel. Grind it just before brewing.",
    "## Price and availability",
    "Eleven euros for **250 g**, online and in our shops.",
])


def sign_in(page: Page, url: str, username: str, then: str) -> None:
    page.goto(f"{url}/login/?next={then}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.wait_for_load_state("load")  # the page's scripts have attached their handlers


SELECT = """(phrase) => {
  const walker = document.createTreeWalker(document.getElementById('reading'), NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const at = node.nodeValue.indexOf(phrase);
    if (at >= 0) {
      const range = document.createRange();
      range.setStart(node, at); range.setEnd(node, at + phrase.length);
      const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
      return true;
    }
  }
  return false;
}"""


def test_select_comment_with_a_mention_and_the_badge_goes_up_live(live_stack, page: Page, browser: Browser,
                                                                   monkeypatch):
    monkeypatch.setattr("editorial.briefs.pipeline_start", lambda **kw: None)  # a written draft, no agents
    world = build_world()
    draft = draft_in_review(world, content=ARTICLE)
    url = live_stack.url
    SHOTS.mkdir(parents=True, exist_ok=True)

    # bree has the same draft open in another browser; her badge says nothing is unread
    other = browser.new_context(viewport={"width": 1400, "height": 1000})
    bree = other.new_page()
    sign_in(bree, url, "bree", f"/drafts/{draft.pk}/")
    badge = bree.locator("#notif-badge")
    expect(badge).to_have_attribute("aria-label", "Notifications: 0 unread")
    expect(bree.locator("#notif-count")).to_be_hidden()
    bree.wait_for_function("window.aiosNotificationSocket && window.aiosNotificationSocket.readyState === 1")

    sign_in(page, url, "eddie", f"/drafts/{draft.pk}/")
    expect(page.locator("#comments")).to_contain_text("No comments yet.")
    assert page.evaluate(SELECT, "baked plum, cocoa")
    floating = page.locator(".comment-float")
    expect(floating).to_be_visible()
    page.screenshot(path=SHOTS / "comment-selection.png")
    page.keyboard.press("c")  # the keyboard way: opens the form with the selection quoted
    body = page.get_by_label("New comment")
    expect(body).to_be_focused()
    expect(page.locator("#nt-quote-text")).to_have_text("baked plum, cocoa")
    body.fill("@bree is the plum note right for the brand voice?")
    page.locator("#new-thread").get_by_role("button", name="Comment").click()

    thread = page.locator("#comments .thread").first
    expect(thread).to_contain_text("baked plum, cocoa")
    expect(thread.locator("strong.mention")).to_have_text("@bree")
    expect(thread).to_be_focused()  # focus moves to what was just posted
    expect(page.locator("#reading mark.comment-mark")).to_have_text("baked plum, cocoa")
    expect(page.get_by_label("New comment")).to_have_value("")
    saved = CommentThread.objects.get()
    assert ARTICLE[saved.quote_start:saved.quote_start + len(saved.quote)] == "baked plum, cocoa"

    # bree's badge went up without a reload, and a screen reader hears what arrived
    expect(bree.locator("#notif-count")).to_have_text("1", timeout=10_000)
    expect(badge).to_have_attribute("aria-label", "Notifications: 1 unread")
    expect(bree.locator("#notif-live")).to_contain_text("Eddie mentioned you")
    # and her comments panel shows the new thread, with its quote marked in her reading view
    expect(bree.locator("#comments .thread")).to_have_count(1)
    expect(bree.locator("#reading mark.comment-mark")).to_have_text("baked plum, cocoa")
    # while she is writing a reply, a further comment does not wipe her text: a button offers it
    bree.locator("#comments .reply textarea").first.fill("Plum is fine by me.")
    assert Notification.objects.get().user == world.brand_reviewer

    # an empty reply is explained in the panel, without a reload; a section can be the anchor too
    page.locator("#comments .reply textarea").first.fill("   ")
    page.locator("#comments .reply").first.get_by_role("button", name="Reply").click()
    expect(page.locator("#comments .field-error")).to_contain_text("the comment is empty")
    page.locator("#comments .reply textarea").first.fill("Also: is “Eleven euros” still right?")
    page.locator("#comments .reply").first.get_by_role("button", name="Reply").click()
    expect(page.locator("#comments .comment")).to_have_count(2)
    expect(bree.get_by_role("button", name="New comments — show them")).to_be_visible()
    expect(bree.locator("#comments .reply textarea").first).to_have_value("Plum is fine by me.")
    # a selection across formatting has no verbatim quote in the Markdown: it anchors to its section
    assert page.evaluate(SELECT, "Eleven euros for ")
    page.evaluate("""() => { const s = getSelection(); const r = s.getRangeAt(0);
        r.setEnd(document.querySelector('#reading strong').firstChild, 3); s.removeAllRanges(); s.addRange(r); }""")
    page.keyboard.press("c")
    expect(page.locator("#nt-note")).to_contain_text("crosses formatting")
    expect(page.get_by_label("About")).to_have_value("Price and availability")
    expect(page.locator("#nt-quote-preview")).to_be_hidden()
    page.get_by_label("New comment").fill("Price confirmed by the shop team.")
    page.locator("#new-thread").get_by_role("button", name="Comment").click()
    expect(page.locator("#comments .thread")).to_have_count(2)
    expect(page.locator("#comments .thread").nth(1)).to_contain_text("Section “Price and availability”")
    page.locator("#comments").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "draft-comments.png", full_page=True)
    page.locator("#comments").screenshot(path=SHOTS / "comments-panel.png")

    # after an edit the threads stay on r1 and say so; a quote no longer in the text is not marked
    draft.refresh_from_db()
    draft_edit(draft=draft, user=world.editor, base_revision_id=draft.current_revision_id,
               content=ARTICLE.replace("baked plum, cocoa", "baked pear, cocoa"))
    page.reload()
    page.wait_for_load_state("load")
    first = page.locator(f"#thread-{CommentThread.objects.order_by('id').first().pk}")
    expect(first).to_contain_text("r1 · older revision")
    expect(first).to_contain_text("This text is no longer in the current revision r2.")
    expect(page.locator("#reading mark.comment-mark")).to_have_count(0)
    page.locator("#comments").screenshot(path=SHOTS / "comments-panel-older.png")

    # bree reads it: the list links to the draft; opening marks it read and the badge empties
    bree.locator("#notif-badge").click()
    expect(bree.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(bree.locator(".notif.unread")).to_have_count(1)
    bree.screenshot(path=SHOTS / "notifications-list.png", full_page=True)
    bree.locator(".notif").first.get_by_role("button", name="Open").click()
    expect(bree).to_have_url(f"{url}/drafts/{draft.pk}/#thread-{saved.pk}")
    expect(bree.locator(f"#thread-{saved.pk}")).to_be_focused()
    expect(bree.locator("#notif-count")).to_be_hidden()
    bree.goto(f"{url}/notifications/settings/")
    bree.screenshot(path=SHOTS / "notification-settings.png", full_page=True)
    other.close()
