"""Issue 15: requests that used to end in a 500 or an open door, replayed. Each gets a 4xx with a
message (or a safe redirect) and saves nothing."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from editorial.models import Draft
from governance.models import AuditEvent
from tests.helpers import draft_in_review


@pytest.fixture
def draft(world) -> Draft:
    return draft_in_review(world)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def nothing_saved(draft: Draft, audits: int) -> bool:
    draft.refresh_from_db()
    return draft.publish_at is None and AuditEvent.objects.count() == audits


# --- schedule -------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    {"publish_at": "2030-01-01T10:00", "tz_offset_minutes": "99999999999999"},
    {"publish_at": "9999-12-31T23:59", "tz_offset_minutes": "1440"},
    {"publish_at": "2030-01-01T10:00", "tz_offset_minutes": "soon"},
])
def test_a_schedule_time_out_of_range_is_a_400_with_a_message(as_user, draft, data):
    audits = AuditEvent.objects.count()
    response = as_user("editor").post(reverse("governance:schedule", args=[draft.pk]), data)
    assert response.status_code == 400
    assert "That time could not be read." in text_of(response)
    assert nothing_saved(draft, audits)


def test_a_requester_who_may_not_publish_is_refused_before_the_time_is_read(as_user, draft):
    audits = AuditEvent.objects.count()
    response = as_user("requester").post(reverse("governance:schedule", args=[draft.pk]),
                                         {"publish_at": "9999-12-31T23:59", "tz_offset_minutes": "99999999999999"})
    assert response.status_code == 403
    assert nothing_saved(draft, audits)


# --- NUL characters in free text (one path: aios/text_input.py) ---------------------------------

def counts() -> tuple:
    from editorial.models import Comment, CommentThread, Revision
    from governance.models import ReviewLink, SignOff
    return (Comment.objects.count(), CommentThread.objects.count(), Revision.objects.count(),
            ReviewLink.objects.count(), SignOff.objects.count(), AuditEvent.objects.count())


NUL_POSTS = {
    "comment body": lambda d, w: (reverse("editorial:comments", args=[d.pk]), {"body": "Hi\x00there", "section": "0"}),
    "comment reply": lambda d, w: (reverse("editorial:thread-reply", args=[d.pk, 1]), {"body": "Re\x00ply"}),
    "retract reason": lambda d, w: (reverse("governance:retract", args=[d.pk]), {"reason": "Wrong\x00fact"}),
    "review-link recipient": lambda d, w: (reverse("governance:review-link", args=[d.pk, w.gates["editorial"].pk]),
                                           {"recipient": "ann\x00@example.com", "hours": "72"}),
    "bulk send-back reason": lambda d, w: (reverse("editorial:queue-bulk"),
                                           {"action": "send_back", "reason": "No\x00pe", "ids": [d.pk],
                                            "confirm": "yes"}),
    "restore note": lambda d, w: (reverse("editorial:revision-restore", args=[d.pk, d.current_revision_id]),
                                  {"note": "Back\x00again"}),
    "external reviewer comment": lambda d, w: (reverse("governance:external-review", args=[d.pk, "tok"]),
                                               {"decision": "approve", "comment": "Fine\x00by me"}),
}


@pytest.mark.parametrize("field", list(NUL_POSTS))
def test_a_nul_character_in_free_text_is_a_400_with_a_message(as_user, world, draft, field):
    url, data = NUL_POSTS[field](draft, world)
    before = counts()
    response = as_user("editor").post(url, data)
    assert response.status_code == 400
    assert "NUL character" in text_of(response)
    assert counts() == before


def test_a_nul_character_in_a_json_body_outside_the_api_is_a_400_problem(client, world):
    response = client.post(reverse("governance:cms-callback", args=[world.connector.pk]),
                           data='{"type": "delivery.failed\\u0000"}', content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "nul_character"


def test_the_api_keeps_its_own_422_naming_the_field_for_a_nul(as_user, draft):
    before = counts()
    response = as_user("editor").post(f"/api/v1/drafts/{draft.pk}/retract", data='{"reason": "Wrong\\u0000fact"}',
                                      content_type="application/json")
    assert response.status_code == 422
    assert "reason" in response.content.decode()
    assert counts() == before


# --- review-link recipient, policy check ----------------------------------------------------------

def test_a_5000_character_review_link_recipient_is_a_400_naming_the_limit(as_user, world, draft):
    before = counts()
    response = as_user("editor").post(reverse("governance:review-link", args=[draft.pk, world.gates["editorial"].pk]),
                                      {"recipient": "x" * 5000, "hours": "72"})
    assert response.status_code == 400
    assert "Name the recipient in at most 200 characters." in text_of(response)
    assert counts() == before


def test_a_policy_check_of_a_revision_that_is_not_a_number_is_a_400_with_a_message(as_user, draft):
    response = as_user("editor").get(reverse("governance:policy-check"), {"revision": "abc"})
    assert response.status_code == 400
    assert "The revision must be given by its number." in text_of(response)


# --- forged cursors -------------------------------------------------------------------------------

def forged(created: str, pk: int = 1) -> str:
    import base64
    import json
    raw = json.dumps([created, pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/api/v1/queue", "/api/v1/briefs"])
@pytest.mark.parametrize("created", ["2026-01-01T00:00:00+16:00", "2026-01-01T00:00:00-23:59"])
def test_a_forged_api_cursor_with_a_wide_utc_offset_is_read_in_utc_not_a_database_error(as_user, draft, path,
                                                                                          created):
    response = as_user("editor").get(path, {"cursor": forged(created, pk=2**62)})
    assert response.status_code == 200
    assert response.json()["items"] == []


def test_a_forged_queue_cursor_beyond_the_id_range_starts_again(as_user, draft):
    response = as_user("editor").get(reverse("editorial:queue"), {"after": "all.0.9999999999999999999"})
    assert response.status_code == 200


# --- assigning to another brand's user --------------------------------------------------------------

def messages_of(response) -> list[str]:
    """The messages the page after the redirect shows (which uses them up)."""
    return [str(m) for m in response.context["messages"]]


def test_assigning_to_another_brands_user_answers_as_for_an_unknown_name(as_user, world, draft):
    client = as_user("editor")
    answers = []
    for name in ("otto", "nobody-by-this-name"):
        response = client.post(reverse("editorial:draft-assign", args=[draft.pk]), {"assignee": name}, follow=True)
        assert response.redirect_chain[0][1] == 302
        answers.append(messages_of(response))
    assert answers[0] == answers[1] == ["Choose who to assign it to."]
    assert "Otto" not in text_of(client.get(reverse("editorial:queue")))
    draft.refresh_from_db()
    assert draft.assignee is None


def test_bulk_assigning_to_another_brands_user_answers_as_for_an_unknown_name(as_user, world, draft):
    client = as_user("editor")
    answers = []
    for name in ("otto", "nobody-by-this-name"):
        response = client.post(reverse("editorial:queue-bulk"), {"action": "assign", "assignee": name,
                                                                 "ids": [draft.pk]}, follow=True)
        assert response.redirect_chain[0][1] == 302
        answers.append(messages_of(response))
    assert answers[0] == answers[1] == ["Choose who to assign the items to; nothing was changed."]
    draft.refresh_from_db()
    assert draft.assignee is None


# --- the CMS callback hook --------------------------------------------------------------------------

@pytest.mark.parametrize("size_mb", [2.2, 3])  # under and over Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
def test_an_oversized_cms_hook_body_is_the_hooks_problem_json_413(client, world, size_mb):
    audits = AuditEvent.objects.count()
    body = '{"type": "delivery.confirmed", "pad": "' + "x" * int(size_mb * 1024 * 1024) + '"}'
    response = client.post(f"/hooks/cms/{world.connector.pk}/", data=body, content_type="application/json")
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert response.json()["title"] == "Payload too large" and "2097152 bytes" in response.json()["detail"]
    assert AuditEvent.objects.count() == audits
