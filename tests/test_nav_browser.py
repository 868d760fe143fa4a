"""The top bar holds on one line at common widths: the desk's everyday pages are links, the tools used
now and then sit behind "More", a menu that opens from the keyboard and closes on Escape or a click
elsewhere. Saves screenshots to var/test/screens/ (nav-<width>.png, nav-more.png)."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, build_world

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_top_bar_stays_on_one_line(transactional_db, live_server, page: Page, width):
    world = build_world()
    world.editor.is_staff = True  # the longest bar: staff also get Admin and Insights
    world.editor.save(update_fields=["is_staff"])
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, live_server.url, world.editor.username)
    bar = page.locator("header.topbar")
    expect(bar.get_by_role("link", name="Queue")).to_be_visible()
    links = bar.locator("nav > a, nav summary, .who")
    tops = {round(box["y"]) for box in (links.nth(i).bounding_box() for i in range(links.count()))}
    heights = {round(links.nth(i).bounding_box()["height"]) for i in range(links.count())}
    assert max(tops) - min(tops) <= 8, tops  # one row
    assert max(heights) <= 40, heights  # no label wrapped onto two lines
    SHOTS.mkdir(parents=True, exist_ok=True)
    bar.screenshot(path=SHOTS / f"nav-{width}.png")


def test_more_opens_from_the_keyboard_and_closes_on_escape_or_a_click_elsewhere(transactional_db, live_server,
                                                                                page: Page):
    world = build_world()
    sign_in(page, live_server.url, world.editor.username)
    dead_letters = page.get_by_role("link", name="Dead letters")
    expect(dead_letters).to_be_hidden()
    page.locator("header.topbar summary").focus()
    page.keyboard.press("Enter")
    expect(dead_letters).to_be_visible()
    page.screenshot(path=SHOTS / "nav-more.png")
    page.keyboard.press("Escape")
    expect(dead_letters).to_be_hidden()
    expect(page.locator("header.topbar summary")).to_be_focused()
    page.locator("header.topbar summary").click()
    page.locator("main").click(position={"x": 5, "y": 5})
    expect(dead_letters).to_be_hidden()
    page.locator("header.topbar summary").click()
    dead_letters.click()
    expect(page).to_have_url(f"{live_server.url}/deliveries/dead/")
    expect(page.locator("header.topbar summary")).to_have_attribute("data-current", "")
