"""static/js/forms.js, which replaced the inline onsubmit handlers the CSP forbids: `data-confirm` asks
first (Cancel changes nothing), `data-tz-offset` sends the browser's offset with a scheduled time."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from playwright.sync_api import Browser, expect

from editorial.models import Draft
from governance.models import ApiToken
from governance.signoffs import signoff_record
from governance.tokens import token_create
from tests.factories import PASSWORD, build_world
from tests.helpers import draft_in_review

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def signed_in_page(browser: Browser, url: str, username: str, then: str, **context):
    page = browser.new_context(viewport={"width": 1280, "height": 900}, **context).new_page()
    page.goto(f"{url}/login/?next={then}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}{then}")
    page.wait_for_load_state("load")
    return page


def test_revoking_a_token_asks_first_and_cancel_keeps_it(transactional_db, live_server, browser: Browser):
    world = build_world()
    token, _ = token_create(user=world.editor, name="ci robot", scopes=["read"], expires_in_days=None,
                            created_by=world.editor)
    page = signed_in_page(browser, live_server.url, world.editor.username, "/tokens/")
    asked: list[str] = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()
    page.once("dialog", dismiss)
    page.get_by_role("button", name="Revoke ci robot").click()
    page.wait_for_timeout(300)
    assert asked == ["Revoke “ci robot”? Programs using it stop working at once."]
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke ci robot").click()
    expect(page.locator(f"#token-{token.pk}")).to_contain_text("Revoked")
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_a_scheduled_time_is_read_in_the_browsers_time_zone(transactional_db, live_server, browser: Browser):
    world = build_world()
    draft = draft_in_review(world)
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    page = signed_in_page(browser, live_server.url, world.editor.username, f"/drafts/{draft.pk}/",
                          timezone_id="Asia/Kolkata")  # UTC+05:30 all year
    page.get_by_label("Publish at").fill("2030-01-15T10:00")
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_text("Scheduled to publish")).to_be_visible()
    assert Draft.objects.get(pk=draft.pk).publish_at == datetime(2030, 1, 15, 4, 30, tzinfo=timezone.utc)
