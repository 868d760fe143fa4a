"""In Debian's chromium: a requester uploads a CSV of products, sees a bad file's errors by row and
column, uploads a good one, starts it and watches the progress bar fill live (WebSocket)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from editorial.batches.models import Batch
from editorial.models import Draft
from tests.factories import PASSWORD, build_world

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"
GOOD = "sku,name,features\n" + "".join(f"K-{i},Kettle {i},steel body {i}\n" for i in range(8))
BAD = "sku,name,features\nK-1,Kettle,steel\nK-2,,glass\n"


def fill_upload(page: Page, name: str, text: str) -> None:
    page.get_by_label("File").set_input_files(files=[{"name": name, "mimeType": "text/csv",
                                                       "buffer": text.encode()}])
    expect(page.locator("#batch-columns-found")).to_have_text("Columns: sku, name, features")
    page.get_by_label("Channel").select_option("product")
    page.get_by_label("Title column").fill("name")
    page.get_by_label("Goal if no column").fill("Describe {name}: {features}")
    page.get_by_label("Audience if no column").fill("home baristas")


def test_a_requester_uploads_a_csv_and_watches_the_progress_bar(live_stack, page: Page):
    build_world(sections=2)
    live_stack.llm.tokens_per_second = 40  # slow enough to see the bar move
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(live_stack.url + "/login/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Bulk briefs").click()
    page.get_by_role("link", name="Upload a file").click()

    fill_upload(page, "bad.csv", BAD)
    page.get_by_role("button", name="Check the file").click()
    errors = page.locator("#batch-errors")
    expect(errors).to_contain_text("nothing was filed")
    expect(errors.locator("tr", has_text="Empty: the brief's title is required")).to_contain_text("2")
    page.screenshot(path=SHOTS / "batch-errors.png", full_page=True)
    assert not Batch.objects.exists()

    fill_upload(page, "kettles.csv", GOOD)
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator("#batch-status")).to_have_text("Ready to start")
    expect(page.get_by_text("Model calls")).to_be_visible()
    page.screenshot(path=SHOTS / "batch-ready.png", full_page=True)
    page.get_by_role("button", name="Start").click()
    text = page.locator("#batch-progress-text")
    # Live, part way: drafts being written while none is done yet. (Runs share one FIFO queue, so the
    # eight drafts tend to finish together; "being written" is the state that lasts.)
    expect(page.locator('[data-count="writing"]')).to_have_text(re.compile(r"^[1-8]$"), timeout=180_000)
    page.screenshot(path=SHOTS / "batch-progress.png", full_page=True)
    expect(text).to_have_text("8 of 8 drafts done (100%)", timeout=180_000)
    width = page.locator("#batch-bar").evaluate("el => el.getBoundingClientRect().width")
    assert width > 0
    expect(page.locator("#batch-status")).to_have_text("Finished", timeout=30_000)
    page.screenshot(path=SHOTS / "batch-finished.png", full_page=True)
    assert Draft.objects.filter(status=Draft.Status.IN_REVIEW, run_queue="bulk").count() == 8
