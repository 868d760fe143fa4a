"""Reviewer corrections as data (editorial/corrections.py): the desk download and GET /api/v1/corrections."""
from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from guardian.shortcuts import assign_perm

from editorial.corrections import MASK, mask_personal_data
from editorial.models import Draft
from editorial.revisions import revision_create
from governance.models import AuditEvent
from governance.signoffs import signoff_record
from agents.models import ModelVersion
from governance.tokens import token_create
from tests.helpers import draft_in_review

AGENT_TEXT = ("## Part 1\n\nOur autumn roast is guaranteed to delight. Write to jane.doe@example.com for a sample.\n\n"
              "## Part 2\n\nIt ships on Monday.")
APPROVED_TEXT = ("## Part 1\n\nOur autumn roast is designed to delight. Write to jane.doe@example.com for a sample.\n\n"
                 "## Part 2\n\nIt ships on Monday.")


def grant(user) -> None:
    user.user_permissions.add(Permission.objects.get(codename="export_corrections"))


@pytest.fixture
def approved(world) -> Draft:
    draft = draft_in_review(world, content=AGENT_TEXT)
    revision_create(draft=draft, content=APPROVED_TEXT, author_user=world.editor, parent=draft.current_revision)
    draft.refresh_from_db()
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    return draft


def lines(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in body.splitlines() if line]


def test_personal_data_spans_are_masked_and_counted():
    text, masked = mask_personal_data("Mail jane.doe@example.com or call +1 212 555 0100 today.")
    assert "jane.doe" not in text and "555" not in text
    assert text.count(MASK) == 2 and masked == 2


def test_the_download_pairs_each_agent_section_with_the_approved_one_with_provenance(world, approved, as_user):
    grant(world.editor)
    response = as_user("editor").get("/corrections/export.jsonl", {"brand": "northwind"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/jsonl")
    assert "attachment" in response["Content-Disposition"]
    rows = lines(response)
    assert [r["heading"] for r in rows] == ["Part 1", "Part 2"]
    first, second = rows
    assert "guaranteed" in first["agent_text"] and "designed to" in first["approved_text"]
    assert first["changed"] is True and second["changed"] is False
    assert "jane.doe@example.com" not in json.dumps(rows)
    assert MASK in first["agent_text"] and MASK in first["approved_text"] and first["masked_spans"] == 2
    revisions = list(approved.revisions.order_by("number"))
    assert first["provenance"]["agent_revision_id"] == revisions[0].pk
    assert first["provenance"]["approved_revision_id"] == revisions[1].pk
    assert first["provenance"]["model"] == "test-model"
    assert first["provenance"]["run_id"] == revisions[0].author_run_id
    assert AuditEvent.objects.filter(action="editorial.corrections.export", actor_user=world.editor).exists()


def test_drafts_still_in_review_and_ranges_that_exclude_the_approval_give_no_lines(world, approved, as_user):
    grant(world.editor)
    draft_in_review(world, content=AGENT_TEXT)  # not approved: never exported
    client = as_user("editor")
    assert len(lines(client.get("/corrections/export.jsonl"))) == 2
    assert lines(client.get("/corrections/export.jsonl", {"since": "2999-01-01"})) == []
    other = ModelVersion.objects.create(name="Other model", use_settings=True)
    assert lines(client.get("/corrections/export.jsonl", {"model_version": other.pk})) == []
    unknown = client.get("/corrections/export.jsonl", {"model_version": other.pk + 999})
    assert unknown.status_code == 400


def test_without_the_permission_a_member_gets_a_403_page_that_says_why(world, approved, as_user):
    client = as_user("editor")
    page = client.get("/corrections/")
    assert page.status_code == 403 and "Can export reviewer corrections" in page.content.decode()
    assert client.get("/corrections/export.jsonl").status_code == 403


def test_an_outsider_with_the_permission_sees_nothing_of_another_brand(world, approved, as_user):
    grant(world.outsider)
    client = as_user("outsider")
    assert client.get("/corrections/").status_code == 200
    assert lines(client.get("/corrections/export.jsonl")) == []  # only Acme, which has none
    refused = client.get("/corrections/export.jsonl", {"brand": "northwind"})
    assert refused.status_code == 400 and b"northwind" not in b"".join([refused.content])


def test_a_permission_granted_on_one_brand_in_the_admin_is_enough_for_that_brand(world, approved, as_user):
    assign_perm("governance.export_corrections", world.brand_reviewer, world.brand)
    rows = lines(as_user("brand_reviewer").get("/corrections/export.jsonl", {"brand": "northwind"}))
    assert len(rows) == 2


def test_bad_dates_are_a_form_error_not_a_crash(world, approved, as_user):
    grant(world.editor)
    response = as_user("editor").get("/corrections/export.jsonl", {"since": "2026-05-02", "until": "2026-05-01"})
    assert response.status_code == 400
    assert "before its start" in response.content.decode()
    assert as_user("editor").get("/corrections/export.jsonl", {"since": "yesterday"}).status_code == 400


def test_a_wrong_method_is_refused(world, as_user):
    grant(world.editor)
    assert as_user("editor").post("/corrections/export.jsonl").status_code == 405


def test_the_api_streams_the_same_lines_for_a_token_with_the_read_scope(world, approved, client):
    grant(world.editor)
    _, secret = token_create(user=world.editor, name="export", scopes=["read"], expires_in_days=30,
                             created_by=world.editor)
    response = client.get("/api/v1/corrections", {"brand": "northwind"}, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    rows = lines(response)
    assert len(rows) == 2 and rows[0]["brand"] == "northwind"


def test_the_api_refuses_an_outsider_and_a_token_without_the_scope(world, approved, client):
    grant(world.outsider)
    _, secret = token_create(user=world.outsider, name="x", scopes=["read"], expires_in_days=30,
                             created_by=world.outsider)
    refused = client.get("/api/v1/corrections", {"brand": "northwind"}, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert refused.status_code == 422
    assert refused["Content-Type"].startswith("application/problem+json")
    everything = client.get("/api/v1/corrections", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert lines(everything) == []
    grant(world.editor)
    _, write_only = token_create(user=world.editor, name="w", scopes=["write"], expires_in_days=30,
                             created_by=world.editor)
    assert client.get("/api/v1/corrections", HTTP_AUTHORIZATION=f"Bearer {write_only}").status_code == 403


def test_a_span_the_pipeline_recorded_as_personal_data_is_masked_even_where_the_detector_sees_none(
        world, approved, as_user):
    from governance.models import Finding

    agent = approved.revisions.order_by("number").first()
    start = agent.content.index("autumn roast")
    Finding.objects.create(revision=agent, category="personal_data", severity="blocking", start=start,
                           end=start + len("autumn roast"), text="autumn roast", message="Personal data: a name.")
    grant(world.editor)
    first = lines(as_user("editor").get("/corrections/export.jsonl"))[0]
    assert "autumn roast" not in first["agent_text"] and first["agent_text"].startswith(f"Our {MASK} is")
    assert "autumn roast" in first["approved_text"]  # recorded on the agent's revision only
