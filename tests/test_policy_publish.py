"""Drafts approved by policy are published or scheduled without a person, by their own task after the
approval commits: a publish that fails never fails the check run, and is audited, shown on the draft
page and told to the editor. A bulk batch may say when its policy-approved drafts go out."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import AgentRun
from editorial.batches.models import Batch, BatchRow
from editorial.models import Draft, Notification
from governance.models import AuditEvent, Delivery
from governance.publishing import delivery, policy, tasks
from governance.publishing.publish import draft_schedule, draft_unschedule, publish_due
from governance.signoffs import signoff_record, signoffs_by_policy
from tests.factories import PASSWORD
from tests.helpers import draft_in_review, drive, file_brief

POLICY = "“Standard review” low-risk auto-approval"


@pytest.fixture
def policy_on(world):
    world.workflow.policy_approval = True
    world.workflow.save()
    return world


@pytest.fixture
def sent(monkeypatch):
    """Tasks sent to the broker, by name (the worker is not running in these tests)."""
    calls: list[tuple[str, tuple, str | None]] = []
    monkeypatch.setattr(policy.app, "send_task",
                        lambda name, args=(), queue=None, **kw: calls.append((name, tuple(args), queue)))
    return calls


def approved_by_policy(world) -> Draft:
    draft = draft_in_review(world)
    signoffs_by_policy(draft=draft, quality_clean=True)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    return draft


def in_batch(world, draft: Draft, *, publish_at) -> Batch:
    batch = Batch.objects.create(brand=world.brand, template=world.template, name="Autumn products", channel="blog",
                                 created_by=world.requester, total=1)
    Batch.objects.filter(pk=batch.pk).update(policy_publish_at=publish_at)  # as stored at upload, then time passed
    BatchRow.objects.create(batch=batch, number=1, values={"title": draft.title}, status="filed", draft=draft)
    return batch


def page_of(client, world, draft: Draft) -> str:
    assert client.login(username=world.requester.username, password=PASSWORD)
    return client.get(f"/drafts/{draft.pk}/").content.decode()


def test_the_check_step_approves_and_the_publish_follows_in_its_own_task_after_commit(
    policy_on, model_at, sent, django_capture_on_commit_callbacks
):
    draft = file_brief(policy_on)
    with django_capture_on_commit_callbacks(execute=True):
        drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED  # signed by policy; not yet published
    assert (policy.POLICY_PUBLISH_TASK, (draft.pk,), "default") in sent
    assert not Delivery.objects.exists()
    tasks.publish_by_policy(draft.pk)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED
    publish = AuditEvent.objects.get(action="governance.draft.publish")
    assert publish.actor_label == f"published by policy {POLICY}" and publish.actor_user is None
    assert draft.deliveries.count() == 1
    # A second delivery of the task (acks_late, a worker lost) changes nothing.
    assert policy.draft_publish_by_policy(draft_id=draft.pk) == "skipped"
    assert draft.deliveries.count() == 1


def test_a_publish_failure_does_not_fail_the_check_run_and_is_audited_shown_and_notified(
    policy_on, model_at, sent, monkeypatch, client, django_capture_on_commit_callbacks
):
    def broken_hook(draft):
        raise RuntimeError("payload hook broke")

    monkeypatch.setattr(delivery, "PAYLOAD_HOOKS", [*delivery.PAYLOAD_HOOKS, broken_hook])
    draft = file_brief(policy_on)
    with django_capture_on_commit_callbacks(execute=True):
        drive(draft)
        check = AgentRun.objects.get(draft=draft, kind=AgentRun.Kind.CHECK)
        assert check.status == AgentRun.Status.SUCCEEDED, check.error
        assert tasks.publish_by_policy(draft.pk) is None
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED and draft.published_revision_id is None
    assert not Delivery.objects.exists()
    failed = AuditEvent.objects.get(action="governance.draft.publish_failed")
    assert failed.object_id == str(draft.pk) and failed.data["policy"] == POLICY
    assert "RuntimeError" in failed.data["reason"] and failed.actor_label == f"policy {POLICY}"
    note = Notification.objects.get(kind="publish_failed", user=policy_on.requester)
    assert "not published" in note.message and "RuntimeError" in note.message
    page = page_of(client, policy_on, draft)
    assert 'id="publish-problem"' in page and "Approved by policy, but not published." in page
    assert "RuntimeError" in page


def test_without_an_active_connector_the_draft_stays_approved_with_the_reason_on_its_page(policy_on, sent, client):
    policy_on.connector.is_active = False
    policy_on.connector.save()
    draft = approved_by_policy(policy_on)
    assert policy.draft_publish_by_policy(draft_id=draft.pk) == "failed"
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    failed = AuditEvent.objects.get(action="governance.draft.publish_failed")
    assert failed.data["reason"] == "This brand has no active CMS connector to publish to."
    assert "no active CMS connector" in page_of(client, policy_on, draft)
    assert "no active CMS connector" in client.get(f"/api/v1/drafts/{draft.pk}").json()["publish_problem"]
    # A person scheduling it (and then changing their mind) settles the failure: the page stops showing it.
    draft_schedule(draft=draft, user=policy_on.editor, publish_at=timezone.now() + timedelta(days=1))
    draft.refresh_from_db()
    assert policy.publish_problem(draft) is None
    draft_unschedule(draft=draft, user=policy_on.editor)
    draft.refresh_from_db()
    assert policy.publish_problem(draft) is None
    policy_on.connector.is_active = True
    policy_on.connector.save()
    assert policy.draft_publish_by_policy(draft_id=draft.pk) == "published"
    draft.refresh_from_db()
    assert policy.publish_problem(draft) is None


def test_a_draft_approved_by_a_person_is_not_published_by_the_task(policy_on, sent):
    draft = draft_in_review(policy_on)
    signoff_record(draft=draft, gate=policy_on.gates["editorial"], user=policy_on.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    assert policy.draft_publish_by_policy(draft_id=draft.pk) == "skipped"
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED and not Delivery.objects.exists()


def test_the_batchs_time_schedules_the_draft_and_beat_publishes_it_when_due(policy_on, sent, client):
    when = (timezone.now() + timedelta(hours=6)).replace(microsecond=0)
    draft = approved_by_policy(policy_on)
    in_batch(policy_on, draft, publish_at=when)
    assert policy.draft_publish_by_policy(draft_id=draft.pk) == "scheduled"
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED and draft.publish_at == when and draft.publish_requested_by is None
    schedule = AuditEvent.objects.get(action="governance.draft.schedule")
    assert schedule.actor_label == f"scheduled by policy {POLICY}" and schedule.data["policy"] == POLICY
    assert f"by policy {POLICY}, without a person" in page_of(client, policy_on, draft)
    assert publish_due(now=when - timedelta(minutes=1)) == []
    assert publish_due(now=when + timedelta(minutes=1)) == [draft.pk]
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED and draft.publish_at is None
    publish = AuditEvent.objects.get(action="governance.draft.publish")
    assert publish.actor_label == f"published by policy {POLICY}"
    assert draft.deliveries.count() == 1


def test_a_batch_time_already_passed_when_the_draft_is_approved_publishes_at_once(policy_on, sent):
    draft = approved_by_policy(policy_on)
    in_batch(policy_on, draft, publish_at=timezone.now() - timedelta(minutes=5))
    assert policy.draft_publish_by_policy(draft_id=draft.pk) == "published"
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED
    assert not AuditEvent.objects.filter(action="governance.draft.schedule").exists()


def test_a_scheduled_publish_that_fails_when_due_is_audited_shown_and_notified(policy_on, sent, client):
    when = timezone.now() + timedelta(hours=1)
    draft = approved_by_policy(policy_on)
    in_batch(policy_on, draft, publish_at=when)
    assert policy.draft_publish_by_policy(draft_id=draft.pk) == "scheduled"
    policy_on.connector.is_active = False
    policy_on.connector.save()
    assert publish_due(now=when + timedelta(minutes=1)) == []
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED and draft.publish_at is None
    failed = AuditEvent.objects.get(action="governance.draft.schedule_failed")
    assert failed.data == {"reason": "This brand has no active CMS connector to publish to.", "policy": POLICY}
    assert Notification.objects.filter(kind="publish_failed", user=policy_on.requester).exists()
    page = page_of(client, policy_on, draft)
    assert 'id="publish-problem"' in page and "no active CMS connector" in page


def test_the_approval_notification_names_the_policy_not_a_person(policy_on):
    draft = approved_by_policy(policy_on)
    note = Notification.objects.get(kind="approval", draft=draft, user=policy_on.requester)
    assert f"approved by policy {POLICY}" in note.message and "outside reviewer" not in note.message


def test_a_bulk_drafts_publish_goes_to_the_bulk_queue_so_the_desk_never_waits_behind_it(
    policy_on, sent, django_capture_on_commit_callbacks
):
    desk, bulk = approved_by_policy(policy_on), approved_by_policy(policy_on)
    Draft.objects.filter(pk=bulk.pk).update(run_queue="bulk")
    bulk.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        policy.policy_publish_enqueue(draft=desk)
        policy.policy_publish_enqueue(draft=bulk)
    assert [(args, queue) for name, args, queue in sent if name == policy.POLICY_PUBLISH_TASK] == [
        ((desk.pk,), "default"), ((bulk.pk,), "bulk")]
