"""`GET /api/v1/batches/{id}/rows`: a batch's rows for machines, with the batch page's state filter,
a page at a time by row number, each row's state, brief and draft, the reason it failed and the policy
that approved it; access as `getBatch` (outsiders get 404); a bad filter or cursor is a problem."""
from __future__ import annotations

import base64
import json

from editorial.batches.models import BatchRow
from editorial.models import Draft
from editorial.revisions import revision_create
from governance.models import SignOff
from governance.tokens import token_create
from tests.test_api_errors import assert_problem
from tests import test_batch_rows
from tests.test_batch_rows import draft_of, set_status

filed = test_batch_rows.filed  # the same fixture: a running batch whose first rows have drafts


def rows_api(batch, query: str = "") -> str:
    return f"/api/v1/batches/{batch.pk}/rows" + (f"?{query}" if query else "")


def test_each_row_has_its_state_ids_draft_status_reason_and_approving_policy(world, filed, as_user):
    batch = filed(6, filing=5)
    set_status(batch, 2, Draft.Status.NEEDS_HUMAN, "Section 2 kept repeating itself after 3 tries.")
    set_status(batch, 3, Draft.Status.FAILED, "The model server did not answer.")
    approved = set_status(batch, 4, Draft.Status.APPROVED)
    revision = revision_create(draft=approved, content="## Part 1\nA kettle.", author_user=world.editor)
    SignOff.objects.create(draft=approved, revision=revision, gate=world.gates["editorial"], policy="Low-risk products",
                           decision=SignOff.Decision.APPROVE)
    BatchRow.objects.filter(batch=batch, number=5).update(status=BatchRow.Status.REFUSED, draft=None,
                                                          error="No review workflow covers this channel.")
    response = as_user("requester").get(rows_api(batch))
    assert response.status_code == 200, response.content
    body = response.json()
    rows = {r["number"]: r for r in body["items"]}
    writing = draft_of(batch, 1)
    assert rows[1] == {
        "number": 1, "title": "Kettle 1", "state": "writing", "state_label": "Writing", "reason": None,
        "brief_id": writing.brief_id, "draft_id": writing.pk, "draft_status": "generating",
        "approved_by_policy": None, "state_changed_at": rows[1]["state_changed_at"],
    }
    assert rows[1]["state_changed_at"] is not None
    assert rows[2]["state"] == "human" and rows[2]["reason"] == "Section 2 kept repeating itself after 3 tries."
    assert rows[3]["state"] == "failed" and rows[3]["draft_status"] == "failed" and "did not answer" in rows[3]["reason"]
    assert rows[4]["approved_by_policy"] == "Low-risk products" and rows[4]["draft_status"] == "approved"
    assert rows[4]["state_label"] == "Approved by policy Low-risk products"
    assert rows[5]["state"] == "failed" and rows[5]["draft_id"] is None and rows[5]["brief_id"] is None
    assert rows[5]["reason"] == "No review workflow covers this channel."
    assert rows[6]["state"] == "waiting" and rows[6]["draft_id"] is None and rows[6]["reason"] is None
    assert body["total"] == 6 and body["state"] is None and body["next_cursor"] is None
    assert body["counts"] == {"waiting": 1, "writing": 1, "review": 0, "approved": 1, "published": 0, "human": 1,
                              "failed": 2, "cancelled": 0, "other": 0}


def test_the_cursor_walks_every_row_of_a_state_once_in_file_order(world, filed, as_user):
    batch = filed(60, filing=0)
    client = as_user("requester")
    seen, cursor, pages = [], None, 0
    while True:
        response = client.get(rows_api(batch, "limit=25" + (f"&cursor={cursor}" if cursor else "")))
        assert response.status_code == 200
        body = response.json()
        seen += [r["number"] for r in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(1, 61)) and pages == 3
    waiting = client.get(rows_api(batch, "state=waiting&limit=100")).json()
    assert len(waiting["items"]) == 60 and waiting["next_cursor"] is None and waiting["state"] == "waiting"
    assert client.get(rows_api(batch, "state=failed")).json()["items"] == []


def test_a_row_that_stays_in_its_state_is_not_skipped_while_others_leave_it(world, filed, as_user):
    batch = filed(6, filing=6)  # every row is being written
    client = as_user("requester")
    first = client.get(rows_api(batch, "state=writing&limit=2")).json()
    assert [r["number"] for r in first["items"]] == [1, 2]
    set_status(batch, 1, Draft.Status.IN_REVIEW)  # rows 1 and 2 leave "writing" between the pages
    set_status(batch, 2, Draft.Status.IN_REVIEW)
    second = client.get(rows_api(batch, f"state=writing&limit=2&cursor={first['next_cursor']}")).json()
    assert [r["number"] for r in second["items"]] == [3, 4]  # a page number would have skipped to 5 and 6
    assert second["counts"]["writing"] == 4 and second["counts"]["review"] == 2


def test_an_unknown_state_is_a_problem_naming_the_field(world, filed, as_user):
    batch = filed(2, filing=0)
    body = assert_problem(as_user("requester").get(rows_api(batch, "state=burnt")), 422)
    assert [e["field"] for e in body["errors"]] == ["query.state"]
    assert "waiting" in body["errors"][0]["message"] and "failed" in body["errors"][0]["message"]


def test_a_cursor_the_api_did_not_give_for_these_rows_is_a_problem(world, filed, as_user):
    batch = filed(2, filing=0)
    client = as_user("requester")
    queue_cursor = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", 3]).encode()).decode().rstrip("=")
    for cursor in ("nonsense", queue_cursor, base64.urlsafe_b64encode(b'{"after": -1}').decode().rstrip("=")):
        body = assert_problem(client.get(rows_api(batch, f"cursor={cursor}")), 422)
        assert body["errors"][0]["field"] == "cursor"
    assert_problem(client.get(rows_api(batch, "limit=0")), 422)
    assert_problem(client.get(rows_api(batch, "limit=101")), 422)


def test_a_same_brand_reviewer_reads_the_rows(world, filed, as_user):
    batch = filed(3, filing=1)
    response = as_user("brand_reviewer").get(rows_api(batch))
    assert response.status_code == 200 and len(response.json()["items"]) == 3


def test_an_outsider_gets_404_as_for_the_batch_itself(world, filed, as_user):
    batch = filed(3, filing=1)
    client = as_user("outsider")
    assert_problem(client.get(rows_api(batch)), 404)
    assert_problem(client.get(rows_api(batch, "state=failed")), 404)
    assert_problem(client.get(f"/api/v1/batches/{batch.pk}"), 404)


def test_the_rows_refuse_a_wrong_method_and_act_on_nothing(world, filed, as_user):
    batch = filed(3, filing=1)
    client = as_user("requester")
    for method in (client.post, client.delete, client.put):
        assert_problem(method(rows_api(batch), content_type="application/json"), 405)
    assert BatchRow.objects.filter(batch=batch, status=BatchRow.Status.PENDING).count() == 2
    response = client.post(f"/api/v1/batches/{batch.pk}/pause", content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "paused"  # the actions still route


def test_a_read_token_lists_the_rows_and_signed_out_callers_are_refused(world, filed, client):
    batch = filed(2, filing=0)
    _, raw = token_create(user=world.requester, name="r", scopes=["read"], expires_in_days=1,
                          created_by=world.requester)
    response = client.get(rows_api(batch), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200 and len(response.json()["items"]) == 2
    assert_problem(client.get(rows_api(batch)), 401)


def test_a_page_costs_the_same_queries_for_two_rows_or_a_hundred(world, filed, as_user,
                                                                 django_assert_max_num_queries):
    small, big = filed(2, filing=2), filed(120, filing=100)
    client = as_user("requester")
    client.get(rows_api(small))
    with django_assert_max_num_queries(10) as few:
        client.get(rows_api(small, "limit=100"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get(rows_api(big, "limit=100")).json()["items"]) == 100
