"""The draft page in Debian's chromium: a merged finding shows once, its details folded and opened from
the keyboard. Saves a screenshot to var/test/screens/."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from governance.detectors.findings import FindingData
from governance.models import Finding
from governance.policies import findings_record
from tests.factories import build_world
from tests.helpers import draft_in_review
from tests.test_desk_browser import sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"
SENTENCE = "Our app cuts your weekly admin by 40%."


def test_a_merged_finding_shows_once_with_its_details_folded(transactional_db, live_server, page: Page):
    world = build_world()
    draft = draft_in_review(world, content=f"## Part 1\n\n{SENTENCE} Most experts agree.")
    revision = draft.current_revision
    Finding.objects.filter(revision=revision).delete()
    start = revision.content.index(SENTENCE)
    figure = revision.content.index("40%")
    findings_record(revision=revision, run=None, version=None, findings=[
        FindingData(category="claim", severity="warning", message="Numeric claim needs a source",
                    start=figure, end=figure + 3, text="40%"),
        FindingData(category="unsupported_claim", severity="warning", start=start, end=start + len(SENTENCE),
                    text=SENTENCE, message="This sentence looks factual (a figure) but no retrieved source "
                                           "supports it. Check it or add a source."),
    ])
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server.url, "eddie", f"/drafts/{draft.pk}/")
    findings = page.locator("section.findings")
    expect(findings.locator("li.finding")).to_have_count(1)
    details = findings.locator("details.finding-details")
    expect(details.locator("li")).not_to_be_visible()
    details.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(details.locator("li")).to_contain_text("Numeric claim needs a source")
    SHOTS.mkdir(parents=True, exist_ok=True)
    findings.screenshot(path=SHOTS / "draft-merged-finding.png")
