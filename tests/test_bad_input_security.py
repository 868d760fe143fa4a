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
