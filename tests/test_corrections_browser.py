"""The reviewer-corrections page in Debian's chromium: choose a brand, download the JSONL.
Saves a screenshot to var/test/screens/."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Page, expect

from editorial.revisions import revision_create
from governance.signoffs import signoff_record
from tests.factories import PASSWORD, build_world
from tests.helpers import draft_in_review

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parent.parent / "var" / "test" / "screens"


def test_an_editor_downloads_the_corrections_of_a_brand(transactional_db, live_server, page: Page, tmp_path):
    world = build_world()
    world.editor.user_permissions.add(Permission.objects.get(codename="export_corrections"))
    draft = draft_in_review(world, content="## Part 1\n\nIt is guaranteed to please. Call +1 212 555 0100.")
    revision_create(draft=draft, content="## Part 1\n\nIt is designed to please. Call +1 212 555 0100.",
                    author_user=world.editor, parent=draft.current_revision)
    draft.refresh_from_db()
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/login/?next=/corrections/")
    page.get_by_label("Username").fill("eddie")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Reviewer corrections")).to_be_visible()
    expect(page.get_by_role("link", name="Corrections")).to_have_attribute("aria-current", "page")
    page.get_by_label("Brand").select_option(label="Northwind")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "corrections.png", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSONL").click()
    saved = tmp_path / "corrections.jsonl"
    download.value.save_as(saved)
    rows = [json.loads(line) for line in saved.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["changed"] is True
    assert "555" not in rows[0]["agent_text"] and "[personal data]" in rows[0]["approved_text"]

    page.goto(f"{live_server.url}/corrections/export.jsonl?since=2026-02-02&until=2026-02-01")
    expect(page.get_by_role("alert").filter(has_text="before its start")).to_be_visible()
    page.screenshot(path=SHOTS / "corrections-error.png", full_page=True)
