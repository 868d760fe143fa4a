"""CMS delivery: Standard Webhooks signatures checked by the reference library's verifier, rotation,
retries and 410, receipts used for updates and retractions, scheduling, CMS callbacks, replay."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from editorial.editing import draft_edit
from editorial.models import Draft
from governance.models import AuditEvent, Connector, Delivery, InboundCallback
from governance.provenance import verify_manifest
from governance.publishing.connectors import connector_finish_rotation, connector_rotate_secret
from governance.publishing.delivery import (
    DELIVER_TASK,
    RETRY_SCHEDULE,
    delivery_attempt,
    delivery_replay,
    webhook_headers,
)
from governance.publishing.publish import draft_publish, draft_retract, draft_schedule, draft_unschedule, publish_due
from governance.signoffs import signoff_record
from tests.factories import PASSWORD
from tests.helpers import draft_in_review


class CMS:
    """A CMS on loopback: answers from a script of status codes, records what it processed once."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[dict] = []
        self.processed: dict[str, dict] = {}
        cms = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                cms.requests.append({"headers": headers, "body": body})
                status = cms.statuses.pop(0) if cms.statuses else 200
                if status == 200:
                    cms.processed.setdefault(headers["webhook-id"], json.loads(body))  # once per webhook-id
                answer = {"id": "cms-42", "url": "https://cms.example/42"} if status == 200 else {"error": "no"}
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(answer).encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def cms(world):
    server = CMS()
    Connector.objects.filter(pk=world.connector.pk).update(url=server.url)
    world.connector.refresh_from_db()
    yield server
    server.stop()


def approved(world, content="Hello coffee lovers."):
    draft = draft_in_review(world, content=content)
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    return draft


def deliver_all(draft) -> None:
    """What the worker does, without waiting: attempt each pending delivery until it is settled."""
    for delivery in Delivery.objects.filter(draft=draft).order_by("id"):
        for _ in range(len(RETRY_SCHEDULE)):
            Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)  # skip the wait
            if delivery_attempt(delivery_id=delivery.pk) is None:
                break


# --- signatures --------------------------------------------------------------------------------

def test_the_reference_verifier_accepts_our_signature_and_rejects_tampering_staleness_and_wrong_secrets(world):
    body = json.dumps({"type": "content.published", "data": {"x": 1}})
    now = datetime.now(dt_timezone.utc)
    headers = webhook_headers(world.connector, "msg_1", now, body)
    assert Webhook(world.connector.secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(world.connector.secret).verify(body.replace("1", "2"), headers)
    with pytest.raises(WebhookVerificationError):
        stale = webhook_headers(world.connector, "msg_1", now - timedelta(minutes=10), body)
        Webhook(world.connector.secret).verify(body, stale)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(body, headers)


def test_during_a_rotation_both_secrets_sign_and_afterwards_only_the_new_one(world):
    old = world.connector.secret
    new = connector_rotate_secret(connector=world.connector, user=world.editor)
    world.connector.refresh_from_db()
    body = "{}"
    headers = webhook_headers(world.connector, "msg_2", datetime.now(dt_timezone.utc), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)
    connector_finish_rotation(connector=world.connector, user=world.editor)
    world.connector.refresh_from_db()
    headers = webhook_headers(world.connector, "msg_3", datetime.now(dt_timezone.utc), body)
    Webhook(new).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(body, headers)
    assert AuditEvent.objects.filter(action="governance.connector.rotate_secret").exists()


# --- delivery -------------------------------------------------------------------------------

def test_a_receiver_that_fails_then_recovers_gets_each_event_once_under_one_webhook_id(world, cms):
    cms.statuses = [500, 503]
    draft = approved(world)
    delivery = draft_publish(draft=draft, user=world.editor)[0]
    deliver_all(draft)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert [a.status_code for a in delivery.attempts.all()] == [500, 503, 200]
    assert {r["headers"]["webhook-id"] for r in cms.requests} == {delivery.webhook_id}
    assert list(cms.processed) == [delivery.webhook_id]
    payload = cms.processed[delivery.webhook_id]["data"]
    assert verify_manifest(payload["provenance"]) and payload["cms_id"] is None
    assert (delivery.remote_id, delivery.remote_url) == ("cms-42", "https://cms.example/42")


def test_410_gone_disables_the_connector_and_dead_letters_the_delivery(world, cms):
    cms.statuses = [410]
    draft = approved(world)
    delivery = draft_publish(draft=draft, user=world.editor)[0]
    assert delivery_attempt(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    world.connector.refresh_from_db()
    assert delivery.status == Delivery.Status.DEAD
    assert not world.connector.is_active and "410" in world.connector.disabled_reason
    with pytest.raises(ValidationError, match="disabled"):
        delivery_replay(delivery=delivery, user=world.editor)


def test_every_retry_failing_ends_in_the_dead_letter_queue(world, cms):
    cms.statuses = [500] * len(RETRY_SCHEDULE)
    draft = approved(world)
    delivery = draft_publish(draft=draft, user=world.editor)[0]
    deliver_all(draft)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DEAD and delivery.attempts.count() == len(RETRY_SCHEDULE)


def test_an_edit_published_again_is_an_update_addressed_by_the_cms_id(world, cms):
    draft = approved(world)
    draft_publish(draft=draft, user=world.editor)
    deliver_all(draft)
    draft.refresh_from_db()
    draft_edit(draft=draft, user=world.editor, content="Corrected text.", base_revision_id=draft.current_revision_id)
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=Draft.objects.get(pk=draft.pk).current_revision_id)
    update = draft_publish(draft=draft, user=world.editor)[0]
    assert update.event_type == "updated" and update.payload["data"]["cms_id"] == "cms-42"
    assert update.payload["data"]["content"] == "Corrected text."


def test_retraction_after_publishing_sends_the_compensation_to_the_cms(world, cms):
    draft = approved(world)
    draft_publish(draft=draft, user=world.editor)
    deliver_all(draft)
    with pytest.raises(ValidationError, match="why"):
        draft_retract(draft=draft, user=world.editor, reason=" ")
    retraction = draft_retract(draft=draft, user=world.editor, reason="Wrong price")[0]
    deliver_all(draft)
    retraction.refresh_from_db()
    draft.refresh_from_db()
    assert draft.status == Draft.Status.RETRACTED and draft.status_reason == "Wrong price"
    assert retraction.status == Delivery.Status.DELIVERED
    body = cms.processed[retraction.webhook_id]
    assert body["type"] == "content.retracted"
    assert body["data"]["cms_id"] == "cms-42" and body["data"]["reason"] == "Wrong price"
    with pytest.raises(ValidationError):
        draft_retract(draft=draft, user=world.editor, reason="again")


def test_a_requester_cannot_publish_or_retract(world, cms):
    from django.core.exceptions import PermissionDenied

    draft = approved(world)
    with pytest.raises(PermissionDenied):
        draft_publish(draft=draft, user=world.requester)
    draft_publish(draft=draft, user=world.editor)
    with pytest.raises(PermissionDenied):
        draft_retract(draft=draft, user=world.requester, reason="mine")


# --- scheduling -----------------------------------------------------------------------------

def test_a_scheduled_draft_is_published_when_its_time_comes(world, cms):
    draft = approved(world)
    when = timezone.now() + timedelta(hours=1)
    draft_schedule(draft=draft, user=world.editor, publish_at=when)
    assert publish_due(now=when - timedelta(seconds=1)) == []
    assert publish_due(now=when) == [draft.pk]
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED and draft.publish_at is None
    assert Delivery.objects.get(draft=draft).created_by == world.editor


def test_schedules_in_the_past_or_for_unapproved_drafts_are_refused_and_can_be_cancelled(world):
    draft = approved(world)
    with pytest.raises(ValidationError, match="future"):
        draft_schedule(draft=draft, user=world.editor, publish_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationError, match="approved"):
        draft_schedule(draft=draft_in_review(world), user=world.editor,
                       publish_at=timezone.now() + timedelta(hours=1))
    draft_schedule(draft=draft, user=world.editor, publish_at=timezone.now() + timedelta(hours=1))
    draft_unschedule(draft=draft, user=world.editor)
    draft.refresh_from_db()
    assert draft.publish_at is None


def test_a_scheduled_draft_that_was_edited_meanwhile_is_not_published(world, cms):
    draft = approved(world)
    when = timezone.now() + timedelta(hours=1)
    draft_schedule(draft=draft, user=world.editor, publish_at=when)
    draft_edit(draft=draft, user=world.editor, content="Changed.", base_revision_id=draft.current_revision_id)
    assert publish_due(now=when) == []
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW and draft.publish_at is None
    assert AuditEvent.objects.filter(action="governance.draft.schedule_failed").exists()


# --- CMS callbacks ------------------------------------------------------------------------------

def callback(client, connector, payload, *, secret=None, when=None, msg_id="cb_1"):
    body = json.dumps(payload)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int((when or datetime.now(dt_timezone.utc)).timestamp())),
        "webhook-signature": Webhook(secret or connector.secret).sign(msg_id, when or datetime.now(dt_timezone.utc), body),
    }
    return client.post(reverse("governance:cms-callback", args=[connector.pk]), body, content_type="application/json",
                       **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})


def test_a_cms_confirms_a_delivery_with_its_own_id_once(client, world, cms):
    draft = approved(world)
    delivery = draft_publish(draft=draft, user=world.editor)[0]
    payload = {"type": "delivery.confirmed", "data": {"webhook_id": delivery.webhook_id, "id": "P-9", "url": "https://c/9"}}
    assert callback(client, world.connector, payload).status_code == 200
    delivery.refresh_from_db()
    assert (delivery.remote_id, delivery.remote_url) == ("P-9", "https://c/9")
    replay = callback(client, world.connector, payload)
    assert replay.status_code == 409 and replay["Content-Type"] == "application/problem+json"
    assert InboundCallback.objects.count() == 1


def test_a_cms_reported_failure_dead_letters_the_delivery_for_replay(client, world, cms, django_capture_on_commit_callbacks):
    draft = approved(world)
    delivery = draft_publish(draft=draft, user=world.editor)[0]
    payload = {"type": "delivery.failed", "data": {"webhook_id": delivery.webhook_id, "detail": "template missing"}}
    assert callback(client, world.connector, payload).status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DEAD
    assert client.login(username="eddie", password=PASSWORD)
    page = client.get(reverse("governance:dead-letters")).content.decode()
    assert delivery.webhook_id in page
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("governance:replay", args=[delivery.pk]))
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING and len(callbacks) == 1


@pytest.mark.parametrize("case", ["bad signature", "stale", "unknown delivery", "not json", "wrong type"])
def test_bad_callbacks_are_refused_with_a_problem_and_change_nothing(client, world, cms, case):
    draft = approved(world)
    delivery = draft_publish(draft=draft, user=world.editor)[0]
    payload = {"type": "delivery.confirmed", "data": {"webhook_id": delivery.webhook_id, "id": "X"}}
    expected = 401
    if case == "bad signature":
        response = callback(client, world.connector, payload, secret="whsec_" + "QUJD" * 8)
    elif case == "stale":
        response = callback(client, world.connector, payload, when=datetime.now(dt_timezone.utc) - timedelta(hours=1))
    elif case == "unknown delivery":
        payload["data"]["webhook_id"] = "msg_nope"
        response, expected = callback(client, world.connector, payload), 422
    elif case == "wrong type":
        payload["type"] = "delivery.exploded"
        response, expected = callback(client, world.connector, payload), 422
    else:
        response = client.post(reverse("governance:cms-callback", args=[world.connector.pk]), "{nope",
                                content_type="application/json")
    assert response.status_code == expected and response.json()["detail"]
    delivery.refresh_from_db()
    assert delivery.remote_id == "" and not InboundCallback.objects.exists()


@pytest.mark.parametrize("target", ["https://evil.example/phish", "//evil.example/x", "javascript:alert(1)",
                                    "/deliveries/dead/?page=2"])
def test_the_dead_letter_replay_goes_back_only_to_a_page_of_this_site(client, world, cms, target):
    """Issue 15: `next` was followed anywhere (an open redirect), and `javascript:` was a 500."""
    draft = approved(world)
    delivery = draft_publish(draft=draft, user=world.editor)[0]
    Delivery.objects.filter(pk=delivery.pk).update(status="dead")
    assert client.login(username="eddie", password=PASSWORD)
    response = client.post(reverse("governance:replay", args=[delivery.pk]), {"next": target})
    assert response.status_code == 302
    assert response["Location"] == (target if target.startswith("/deliveries") else reverse("governance:dead-letters"))


def test_the_dead_letter_replay_is_refused_for_other_brands(client, world, cms):
    draft = approved(world)
    delivery = draft_publish(draft=draft, user=world.editor)[0]
    Delivery.objects.filter(pk=delivery.pk).update(status="dead")
    assert client.login(username="otto", password=PASSWORD)
    assert client.post(reverse("governance:replay", args=[delivery.pk])).status_code == 404
    assert delivery.webhook_id not in client.get(reverse("governance:dead-letters")).content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "dead"



def test_the_publishing_tasks_keep_their_names_and_the_worker_finds_them():
    from aios.celery import app
    from governance.publishing import tasks

    app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    assert tasks.deliver.name == "governance.deliver" == DELIVER_TASK
    assert tasks.publish_due.name == "governance.publish_due"
    assert {"governance.deliver", "governance.publish_due", "governance.idempotency_purge"} <= set(app.tasks)
