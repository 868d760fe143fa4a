"""In Debian's chromium: an editor watching a batch's page sees a row go from waiting to in review,
with a link to its draft, and the buttons follow the batch started elsewhere, without reloading; the
state tabs filter the rows in place and keep the keyboard where it was."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from editorial.batches import services
from tests.conftest import csrf_token
from tests.factories import PASSWORD, build_world

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"
CSV = "name,features\n" + "".join(f"Kettle {i},steel body {i}\n" for i in range(1, 9))


@pytest.fixture(autouse=True)
def _one_draft_at_a_time(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The worker files one row at a time, so row 2 is seen waiting, then written, while the batch runs (and
    # the batch, eight rows long, is still running when the tabs are tried: finishing reloads the page).
    monkeypatch.setenv("AIOS_BULK_MAX_IN_FLIGHT", "1")


def test_an_editor_watches_a_row_go_from_waiting_to_in_review_without_a_reload(live_stack, page: Page):
    world = build_world(sections=2)
    live_stack.llm.tokens_per_second = 40
    batch = services.batch_upload(
        user=world.requester, stream=io.BytesIO(CSV.encode()), fmt="csv", brand=world.brand, template=world.template,
        name="Kettles", channel="product", risk="low", language="en", mapping={"title": "name"},
        defaults={"goal": "Describe {name}: {features}", "audience": "home baristas", "tone": "warm"},
        source_name="kettles.csv",
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(live_stack.url + "/login/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_stack.url}/batches/{batch.pk}/")
    row2 = page.locator('#batch-rows tr[data-row="2"]')
    expect(row2).to_have_attribute("data-state", "waiting")
    expect(row2.get_by_role("link")).to_have_count(0)
    page.evaluate("window.stillTheSamePage = true")

    # Started from elsewhere (another tab, the API): this page only listens.
    other = live_stack.client("rita", PASSWORD)
    token = csrf_token(other.get(f"/batches/{batch.pk}/").text)
    assert other.post(f"/batches/{batch.pk}/start/", data={"csrfmiddlewaretoken": token}).status_code == 200

    expect(page.locator('#batch-rows tr[data-row="1"]')).to_have_attribute("data-state", "writing", timeout=60_000)
    # The buttons follow: started elsewhere, this page now offers Pause, not Start.
    expect(page.locator("#batch-actions").get_by_role("button", name="Pause")).to_be_visible()
    expect(page.locator("#batch-start")).to_have_count(0)
    page.screenshot(path=SHOTS / "batch-rows-live.png", full_page=True)
    expect(row2).to_have_attribute("data-state", "review", timeout=180_000)
    expect(row2.get_by_role("link", name="Kettle 2")).to_have_attribute("href", re.compile(r"/drafts/\d+/"))
    expect(page.locator('.row-states a[data-key="state-review"] .count')).not_to_have_text("0")
    page.screenshot(path=SHOTS / "batch-rows-review.png", full_page=True)
    assert page.evaluate("window.stillTheSamePage") is True
    # Coalesced: the card was asked for again as the figures moved, never twice within the 1.5 s gap.
    refreshes = page.evaluate("performance.getEntriesByType('resource')"
                              ".filter(e => e.name.includes('/rows/')).map(e => e.startTime)")
    assert refreshes and all(b - a >= 1450 for a, b in zip(refreshes, refreshes[1:])), refreshes

    # The "In review" tab, pressed from the keyboard: the card changes in place, the address follows,
    # and the focus stays on the tab.
    tab = page.locator('.row-states a[data-key="state-review"]')
    tab.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?state=review$"))
    expect(page.locator('.row-states a[aria-current="page"]')).to_have_attribute("data-key", "state-review")
    expect(page.locator("#batch-rows tbody tr[data-state]").first).to_have_attribute("data-state", "review")
    assert page.evaluate("document.activeElement.getAttribute('data-key')") == "state-review"
    assert page.evaluate("window.stillTheSamePage") is True
