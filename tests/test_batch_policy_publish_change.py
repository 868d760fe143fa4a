"""Changing a batch's "publish approved-by-policy drafts at" after upload: drafts the policy already
scheduled for the old time move to the new one (or, when the time is cleared, are published now);
published drafts stay published; a person's schedule is kept; audited. On the batch page (a small
form) and in the API (`PATCH /batches/{id}`), for roles that may start the batch."""
from __future__ import annotations

import json
import threading
import time
from datetime import UTC, timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from editorial.batches.models import Batch, BatchRow
from editorial.batches.services import batch_policy_publish_at_set
from editorial.models import Draft
from governance.models import AuditEvent
from governance.publishing import policy
from governance.publishing.policy import draft_publish_by_policy
from governance.publishing.publish import draft_schedule, publish_due
from governance.signoffs import signoff_record, signoffs_by_policy
from governance.tokens import token_create
from tests.factories import build_world
from tests.helpers import draft_in_review
from tests.test_api_errors import assert_problem


def soon(days: float) -> timezone.datetime:
    return (timezone.now() + timedelta(days=days)).replace(microsecond=0)


@pytest.fixture
def batch_of(world):
    """`batch_of(when)`: a batch (time `when`) to which `add(batch, draft)` attaches drafts as filed rows."""
    world.workflow.policy_approval = True
    world.workflow.save()

    def make(when):
        return Batch.objects.create(brand=world.brand, template=world.template, name="Autumn products",
                                    channel="blog", created_by=world.requester, total=0, policy_publish_at=when)
    return make


def add(batch: Batch, draft: Draft) -> Draft:
    number = batch.rows.count() + 1
    BatchRow.objects.create(batch=batch, number=number, values={"title": draft.title}, status="filed", draft=draft)
    Batch.objects.filter(pk=batch.pk).update(total=number)
    return draft


def approved_by_policy(world, batch: Batch) -> Draft:
    draft = add(batch, draft_in_review(world))
    signoffs_by_policy(draft=draft, quality_clean=True)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    return draft


def scheduled_by_policy(world, batch: Batch) -> Draft:
    draft = approved_by_policy(world, batch)
    assert draft_publish_by_policy(draft_id=draft.pk) == "scheduled"
    draft.refresh_from_db()
    assert draft.publish_at == batch.policy_publish_at and draft.publish_requested_by_id is None
    return draft


def test_a_new_time_moves_what_the_policy_scheduled_and_leaves_the_rest(world, batch_of):
    old, new = soon(2), soon(5)
    batch = batch_of(old)
    waiting = scheduled_by_policy(world, batch)
    published = approved_by_policy(world, batch)
    assert draft_publish_by_policy(draft_id=published.pk, now=old + timedelta(minutes=1)) == "published"
    by_person = add(batch, draft_in_review(world))
    signoff_record(draft=by_person, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=by_person.current_revision_id)
    draft_schedule(draft=by_person, user=world.editor, publish_at=old)
    in_review = add(batch, draft_in_review(world))

    batch_policy_publish_at_set(user=world.requester, batch=batch, policy_publish_at=new)

    for draft in (waiting, published, by_person, in_review):
        draft.refresh_from_db()
    assert waiting.publish_at == new and waiting.publish_requested_by_id is None  # still the policy's schedule
    assert published.status == Draft.Status.PUBLISHED
    assert by_person.publish_at == old and by_person.publish_requested_by == world.editor
    assert in_review.status == Draft.Status.IN_REVIEW and in_review.publish_at is None
    assert Batch.objects.get(pk=batch.pk).policy_publish_at == new
    event = AuditEvent.objects.get(action="batches.batch.policy_publish_at_set")
    assert event.actor_user == world.requester and event.object_id == str(batch.pk)
    assert event.data == {"old": old.isoformat(), "new": new.isoformat(), "rescheduled": [waiting.pk]}
    moved = AuditEvent.objects.filter(action="governance.draft.schedule", object_id=str(waiting.pk)).order_by("-id").first()
    assert moved.data["publish_at"] == new.isoformat() and moved.actor_label.startswith("scheduled by policy")
    # The scheduler publishes it at the new time, not the old one.
    assert waiting.pk not in publish_due(now=old + timedelta(minutes=1))
    assert waiting.pk in publish_due(now=new + timedelta(minutes=1))


def test_a_draft_approved_after_the_change_is_scheduled_for_the_new_time(world, batch_of):
    batch = batch_of(soon(2))
    new = soon(3)
    batch_policy_publish_at_set(user=world.requester, batch=batch, policy_publish_at=new)
    later = scheduled_by_policy(world, Batch.objects.get(pk=batch.pk))
    assert later.publish_at == new


def test_clearing_the_time_publishes_the_waiting_drafts_now_through_the_policys_task(
        world, batch_of, monkeypatch, django_capture_on_commit_callbacks):
    batch = batch_of(soon(2))
    waiting = scheduled_by_policy(world, batch)
    sent = []
    monkeypatch.setattr(policy.app, "send_task", lambda name, args, **kw: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        batch_policy_publish_at_set(user=world.requester, batch=batch, policy_publish_at=None)
    waiting.refresh_from_db()
    assert waiting.publish_at is None and waiting.status == Draft.Status.APPROVED
    assert sent == [(policy.POLICY_PUBLISH_TASK, (waiting.pk,))]
    assert AuditEvent.objects.filter(action="governance.draft.unschedule", object_id=str(waiting.pk),
                                     actor_label__startswith="unscheduled by policy").exists()
    assert draft_publish_by_policy(draft_id=waiting.pk) == "published"  # what the task does: the time is gone
    event = AuditEvent.objects.get(action="batches.batch.policy_publish_at_set")
    assert event.data["new"] is None and event.data["published_now"] == [waiting.pk]


def test_the_same_time_again_changes_and_audits_nothing(world, batch_of):
    when = soon(2)
    batch = batch_of(when)
    batch_policy_publish_at_set(user=world.requester, batch=batch, policy_publish_at=when)
    assert not AuditEvent.objects.filter(action="batches.batch.policy_publish_at_set").exists()


@pytest.mark.parametrize(("when", "says"), [
    (timezone.now() - timedelta(minutes=1), "must be in the future"),
    (timezone.now().replace(tzinfo=None) + timedelta(days=1), "with its timezone"),
    (timezone.now() + timedelta(days=366 * 6), "five years"),
])
def test_a_past_naive_or_far_time_is_refused_and_nothing_moves(world, batch_of, when, says):
    from django.core.exceptions import ValidationError

    old = soon(2)
    batch = batch_of(old)
    waiting = scheduled_by_policy(world, batch)
    with pytest.raises(ValidationError, match=says):
        batch_policy_publish_at_set(user=world.requester, batch=batch, policy_publish_at=when)
    waiting.refresh_from_db()
    assert waiting.publish_at == old and Batch.objects.get(pk=batch.pk).policy_publish_at == old


def test_a_role_that_cannot_start_the_batch_cannot_change_it(world, batch_of):
    from django.core.exceptions import PermissionDenied

    batch = batch_of(soon(2))
    with pytest.raises(PermissionDenied):
        batch_policy_publish_at_set(user=world.brand_reviewer, batch=batch, policy_publish_at=soon(3))


# --- the batch page --------------------------------------------------------------------------------

def change_url(batch: Batch) -> str:
    return reverse("batches:policy-publish", args=[batch.pk])


def local(when) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def test_the_owner_changes_the_time_in_the_browsers_time_zone(world, batch_of, as_user):
    batch = batch_of(soon(2))
    waiting = scheduled_by_policy(world, batch)
    client = as_user("requester")
    page = client.get(reverse("batches:detail", args=[batch.pk])).content.decode()
    assert 'id="batch-policy-publish-change"' in page and 'data-tz-offset' in page
    assert "1 draft scheduled by policy waits for this time." in page
    assert 'data-confirm="Publish the 1 draft waiting for this time now?"' in page
    target = soon(4).replace(second=0)
    # A browser two hours ahead of UTC (getTimezoneOffset() = -120) picked target + 2 h local.
    response = client.post(change_url(batch), {"publish_at": local(target + timedelta(hours=2)),
                                               "tz_offset_minutes": "-120"})
    assert response.status_code == 302 and response["Location"] == reverse("batches:detail", args=[batch.pk])
    assert Batch.objects.get(pk=batch.pk).policy_publish_at == target
    waiting.refresh_from_db()
    assert waiting.publish_at == target
    page = client.get(response["Location"]).content.decode()
    assert f"now published at {target:%Y-%m-%d %H:%M} UTC" in page


def test_the_owner_clears_the_time(world, batch_of, as_user):
    batch = batch_of(soon(2))
    response = as_user("requester").post(change_url(batch), {"clear": "1"})
    assert response.status_code == 302 and Batch.objects.get(pk=batch.pk).policy_publish_at is None


def test_a_past_or_missing_time_shows_the_error_in_the_open_form_and_changes_nothing(world, batch_of, as_user):
    old = soon(2)
    batch = batch_of(old)
    client = as_user("requester")
    response = client.post(change_url(batch), {"publish_at": "2020-01-01T10:00", "tz_offset_minutes": "0"})
    assert response.status_code == 422
    page = response.content.decode()
    assert "The publication time must be in the future" in page and 'value="2020-01-01T10:00"' in page
    assert 'id="batch-policy-publish-change" open' in page and 'aria-invalid="true"' in page
    response = client.post(change_url(batch), {"publish_at": "", "tz_offset_minutes": "0"})
    assert response.status_code == 422 and "Pick a date and time" in response.content.decode()
    response = client.post(change_url(batch), {"publish_at": "2099-01-01T10:00", "tz_offset_minutes": "x"})
    assert response.status_code == 422 and "could not be read" in response.content.decode()
    assert Batch.objects.get(pk=batch.pk).policy_publish_at == old
    assert not AuditEvent.objects.filter(action="batches.batch.policy_publish_at_set").exists()


def test_a_reviewer_sees_the_time_but_no_form_and_cannot_post_it(world, batch_of, as_user):
    old = soon(2)
    batch = batch_of(old)
    client = as_user("brand_reviewer")
    page = client.get(reverse("batches:detail", args=[batch.pk])).content.decode()
    assert 'id="batch-policy-publish"' in page and 'id="batch-policy-publish-change"' not in page
    assert client.post(change_url(batch), {"clear": "1"}).status_code == 403
    assert Batch.objects.get(pk=batch.pk).policy_publish_at == old


def test_an_outsider_gets_404_and_a_wrong_method_405(world, batch_of, as_user):
    old = soon(2)
    batch = batch_of(old)
    assert as_user("outsider").post(change_url(batch), {"clear": "1"}).status_code == 404
    assert as_user("requester").get(change_url(batch)).status_code == 405
    assert Batch.objects.get(pk=batch.pk).policy_publish_at == old


# --- the API ----------------------------------------------------------------------------------------

def patch(client, batch: Batch, body, **headers):
    return client.patch(f"/api/v1/batches/{batch.pk}", json.dumps(body), content_type="application/json", **headers)


def test_the_api_changes_and_clears_the_time_and_returns_the_batch(world, batch_of, as_user):
    batch = batch_of(soon(2))
    waiting = scheduled_by_policy(world, batch)
    client = as_user("requester")
    new = soon(6)
    response = patch(client, batch, {"policy_publish_at": new.isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == batch.pk and timezone.datetime.fromisoformat(body["policy_publish_at"]) == new
    waiting.refresh_from_db()
    assert waiting.publish_at == new
    response = patch(client, batch, {"policy_publish_at": None})
    assert response.status_code == 200 and response.json()["policy_publish_at"] is None
    assert client.get(f"/api/v1/batches/{batch.pk}").json()["policy_publish_at"] is None


def test_the_api_answers_bad_input_with_a_problem_and_changes_nothing(world, batch_of, as_user):
    old = soon(2)
    batch = batch_of(old)
    client = as_user("requester")
    for body, field, says in (
        ({"policy_publish_at": "2020-01-01T10:00:00+00:00"}, "policy_publish_at", "must be in the future"),
        ({"policy_publish_at": "2099-01-01T10:00:00"}, "policy_publish_at", "with its timezone"),
        ({"policy_publish_at": "tomorrow"}, "body.policy_publish_at", ""),
        ({}, "body.policy_publish_at", "required"),
        ({"policy_publish_at": None, "name": "Renamed"}, "body.name", "Unknown field"),
    ):
        problem = assert_problem(patch(client, batch, body), 422)
        assert [e["field"] for e in problem["errors"]] == [field] and says in problem["detail"], problem
    assert Batch.objects.get(pk=batch.pk).policy_publish_at == old


def test_the_api_refuses_a_reviewer_an_outsider_a_read_token_and_a_wrong_method(world, batch_of, as_user, client):
    old = soon(2)
    batch = batch_of(old)
    assert_problem(patch(as_user("brand_reviewer"), batch, {"policy_publish_at": None}), 403)
    assert_problem(patch(as_user("outsider"), batch, {"policy_publish_at": None}), 404)
    assert_problem(as_user("requester").put(f"/api/v1/batches/{batch.pk}", "{}", content_type="application/json"), 405)
    client.logout()
    _, raw = token_create(user=world.requester, name="r", scopes=["read"], expires_in_days=1,
                          created_by=world.requester)
    assert_problem(patch(client, batch, {"policy_publish_at": None}, HTTP_AUTHORIZATION=f"Bearer {raw}"), 403)
    assert Batch.objects.get(pk=batch.pk).policy_publish_at == old


# --- a policy publish task running at the same moment ---------------------------------------------

def test_a_draft_the_policy_is_scheduling_for_the_old_time_right_now_still_moves(transactional_db):
    """The task holds the draft's lock and read the old time; the change waits for that lock, then sees
    the task's schedule and moves it. (Without the wait it would stay at the old time.)"""
    world = build_world()
    world.workflow.policy_approval = True
    world.workflow.save()
    old, new = soon(2), soon(4)
    batch = Batch.objects.create(brand=world.brand, template=world.template, name="Race", channel="blog",
                                 created_by=world.requester, total=0, policy_publish_at=old)
    draft = approved_by_policy(world, batch)
    locked, release = threading.Event(), threading.Event()

    def task_in_flight() -> None:
        try:
            with transaction.atomic():
                Draft.objects.select_for_update().get(pk=draft.pk)
                locked.set()
                release.wait(10)
                draft_schedule(draft=draft, user=None, publish_at=old, policy="Low risk")  # the old time it read
        finally:
            connection.close()

    thread = threading.Thread(target=task_in_flight)
    thread.start()
    assert locked.wait(10)
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    batch_policy_publish_at_set(user=world.requester, batch=batch, policy_publish_at=new)
    thread.join(10)
    assert time.monotonic() - started >= 0.4  # it waited for the task's lock
    draft.refresh_from_db()
    assert draft.publish_at == new and draft.publish_requested_by_id is None
