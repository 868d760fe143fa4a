"""Approvals by policy in Debian's chromium: the queue's badge and filter, the draft page saying why a
policy-approved draft was not published, and a batch upload whose publication time is read in the
browser's time zone. Saves screenshots to var/test/screens/."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from editorial.batches.models import Batch
from editorial.models import Draft
from governance.publishing.policy import draft_publish_by_policy
from governance.signoffs import signoffs_by_policy
from tests.factories import PASSWORD, build_world
from tests.helpers import draft_in_review

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"


@pytest.fixture
def browser_context_args(browser_context_args):
    # Paris in winter is UTC+1: the upload form must send the browser's offset with the time.
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "timezone_id": "Europe/Paris"}


@pytest.fixture
def desk(transactional_db, live_server):
    world = build_world()
    world.workflow.policy_approval = True
    world.workflow.save()
    world.connector.is_active = False  # so the publish by policy fails, with its reason
    world.connector.save()
    draft = draft_in_review(world)
    Draft.objects.filter(pk=draft.pk).update(title="Kettle, approved by policy")
    signoffs_by_policy(draft=draft, quality_clean=True)
    assert draft_publish_by_policy(draft_id=draft.pk) == "failed"
    other = draft_in_review(world)
    Draft.objects.filter(pk=other.pk).update(title="Grinder, waiting for a person")
    return live_server.url, world, draft


def sign_in(page: Page, url: str, username: str, then: str) -> None:
    page.goto(f"{url}/login/?next={then}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_the_queue_badge_and_filter_and_the_draft_pages_publish_problem(desk, page: Page):
    url, world, draft = desk
    SHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, url, world.editor.username, "/?tab=all")
    row = page.locator(f'tr[data-draft="{draft.pk}"]')
    badge = row.locator(".pill.policy")
    expect(badge).to_have_text("Approved by policy: “Standard review” low-risk auto-approval")  # with the sr-only name
    expect(badge).to_have_attribute("title", "Approved by policy “Standard review” low-risk auto-approval: "
                                             "no person signed it")
    expect(page.get_by_text("Grinder, waiting for a person")).to_be_visible()
    page.locator('select[name="approved_by"]').select_option("policy")  # htmx swaps the rows
    expect(page.get_by_text("Grinder, waiting for a person")).to_have_count(0)
    expect(row).to_be_visible()
    page.screenshot(path=SHOTS / "policy-queue.png", full_page=True)
    row.get_by_role("link", name="Kettle, approved by policy").click()
    problem = page.locator("#publish-problem")
    expect(problem).to_contain_text("Approved by policy, but not published.")
    expect(problem).to_contain_text("no active CMS connector")
    expect(page.locator("#approved-by-policy")).to_contain_text("every gate was approved by policy")
    page.screenshot(path=SHOTS / "policy-draft-publish-problem.png", full_page=True)


def test_a_batch_upload_reads_the_publication_time_in_the_browsers_time_zone(desk, page: Page):
    url, world, _ = desk
    sign_in(page, url, world.requester.username, "/batches/new/")
    page.get_by_label("File").set_input_files(files=[{"name": "p.csv", "mimeType": "text/csv",
                                                      "buffer": b"name\nKettle\nGrinder\n"}])
    page.get_by_label("Channel").select_option("blog")
    page.get_by_label("Title column").fill("name")
    page.get_by_label("Goal if no column").fill("Describe {name}")
    page.get_by_label("Audience if no column").fill("home baristas")
    day = (timezone.now() + timedelta(days=3)).date()
    page.get_by_label("Publish approved-by-policy drafts at").fill(f"{day.isoformat()}T02:30")
    page.screenshot(path=SHOTS / "policy-batch-upload.png", full_page=True)
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator("#batch-policy-publish")).to_contain_text("01:30 UTC")
    batch = Batch.objects.get()
    assert batch.policy_publish_at == datetime(day.year, day.month, day.day, 1, 30, tzinfo=UTC)
    page.screenshot(path=SHOTS / "policy-batch-detail.png", full_page=True)
