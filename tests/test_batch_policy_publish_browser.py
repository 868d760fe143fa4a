"""In Debian's chromium, from the keyboard: the batch's owner opens "Change when drafts approved by
policy are published", picks a time in the browser's time zone and saves it; the draft the policy had
scheduled moves with it; then "Publish as soon as approved" asks first and clears the time. No CSP error."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from editorial.batches.models import Batch, BatchRow
from editorial.models import Draft
from governance.publishing.policy import draft_publish_by_policy
from governance.signoffs import signoffs_by_policy
from tests.factories import PASSWORD, build_world
from tests.helpers import draft_in_review

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"


def test_the_owner_reschedules_and_clears_the_policy_publish_time_from_the_keyboard(
        transactional_db, live_server, browser: Browser):
    world = build_world()
    world.workflow.policy_approval = True
    world.workflow.save()
    old = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    batch = Batch.objects.create(brand=world.brand, template=world.template, name="Autumn kettles", channel="blog",
                                 created_by=world.requester, total=1, policy_publish_at=old, source_name="kettles.csv")
    draft = draft_in_review(world)
    BatchRow.objects.create(batch=batch, number=1, values={"title": draft.title}, status="filed", draft=draft)
    signoffs_by_policy(draft=draft, quality_clean=True)
    assert draft_publish_by_policy(draft_id=draft.pk) == "scheduled"

    context = browser.new_context(viewport={"width": 1280, "height": 1000}, timezone_id="Asia/Kolkata")  # UTC+05:30
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(f"{live_server.url}/login/?next=/batches/{batch.pk}/")
    page.get_by_label("Username").fill(world.requester.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/batches/{batch.pk}/")
    expect(page.locator("#batch-policy-scheduled")).to_have_text("1 draft scheduled by policy waits for this time.")

    summary = page.get_by_text("Change when drafts approved by policy are published")
    summary.focus()
    page.keyboard.press("Enter")
    field = page.get_by_label("New time")
    expect(field).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "batch-policy-publish-form.png", full_page=True)
    field.fill("2020-01-15T10:00")
    field.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("The publication time must be in the future")
    field = page.get_by_label("New time")
    expect(field).to_be_visible()  # the form stays open on its error, with what was typed
    expect(field).to_have_value("2020-01-15T10:00")
    page.screenshot(path=SHOTS / "batch-policy-publish-error.png", full_page=False)
    assert Batch.objects.get(pk=batch.pk).policy_publish_at == old
    field.fill("2030-01-15T10:00")
    field.press("Enter")  # submits the form, as the Save button would
    expect(page.locator("#batch-policy-publish")).to_contain_text("2030-01-15 04:30 UTC")
    expect(page.get_by_text("now published at 2030-01-15 04:30 UTC")).to_be_visible()
    new = datetime(2030, 1, 15, 4, 30, tzinfo=UTC)
    assert Batch.objects.get(pk=batch.pk).policy_publish_at == new
    assert Draft.objects.get(pk=draft.pk).publish_at == new

    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_text("Change when drafts approved by policy are published").click()  # closed again after the save
    page.locator("#batch-policy-publish-clear").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#batch-policy-publish")).to_contain_text("as soon as they are approved")
    assert asked == ["Publish the 1 draft waiting for this time now?"]
    assert Batch.objects.get(pk=batch.pk).policy_publish_at is None
    page.screenshot(path=SHOTS / "batch-policy-publish-cleared.png", full_page=True)
    expect(page.get_by_text("Publish drafts approved by policy at a set time")).to_be_visible()
    assert problems == []
