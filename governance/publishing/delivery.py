"""Delivering to a CMS: the payload, Standard Webhooks signing, one HTTP attempt and its record
(with the retry schedule), replaying a dead letter, and the CMS's signed callbacks."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any, Callable

import httpx
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from aios.celery import app
from editorial.models import Draft, Revision
from editorial.realtime import push_draft_event
from governance.audit import audit_log
from governance.models import Connector, Delivery, DeliveryAttempt, InboundCallback
from governance.permissions import draft_policy
from governance.provenance import manifest_for, sign_manifest

# Standard Webhooks' suggested schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h.
RETRY_SCHEDULE = [timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
                  timedelta(hours=2), timedelta(hours=5), timedelta(hours=10)]
DELIVERY_TIMEOUT = 15.0
# Services enqueue the delivery task by its registered name rather than importing
# `governance.publishing.tasks`: the tasks import these services, and a task → service import
# should be the only edge between the two (no cycle). `send_task` goes through the same broker
# as `deliver.delay` would; the worker registers the task under this name.
DELIVER_TASK = "governance.deliver"


def deliveries_enqueue(delivery_ids: list[int]) -> None:
    """Queue one attempt of each delivery now. Call it from `transaction.on_commit`."""
    for delivery_id in delivery_ids:
        app.send_task(DELIVER_TASK, args=(delivery_id,))


def _remote_receipt(connector: Connector, draft: Draft) -> tuple[str, str]:
    """The CMS's own id and URL for this draft, from its latest receipt."""
    receipt = (
        Delivery.objects.filter(connector=connector, draft=draft).exclude(remote_id="")
        .order_by("-delivered_at", "-id").values_list("remote_id", "remote_url").first()
    )
    return receipt or ("", "")


# Hooks (draft) -> dict of extra `data` keys for every delivery of the draft (a campaign's variant adds
# its experiment and variant ids); registered by higher layers, never imported here. A hook's keys
# never replace the payload's own.
PAYLOAD_HOOKS: list[Callable[[Draft], dict[str, Any]]] = []


def payload_hook_register(hook: Callable[[Draft], dict[str, Any]]) -> None:
    if hook not in PAYLOAD_HOOKS:
        PAYLOAD_HOOKS.append(hook)


def delivery_payload(*, draft: Draft, revision: Revision, event_type: str, connector: Connector,
                     reason: str = "") -> dict[str, Any]:
    """What a CMS receives: the content, its SHA-256, its AI disclosure, the signed provenance manifest,
    and the CMS's own id once a receipt has told us (so updates and retractions address the right item)."""
    remote_id, remote_url = _remote_receipt(connector, draft)
    data: dict[str, Any] = {
        "draft_id": draft.pk,
        "revision_id": revision.pk,
        "revision_number": revision.number,
        "title": draft.title,
        "channel": draft.brief.channel,
        "cms_id": remote_id or None,
        "cms_url": remote_url or None,
    }
    if event_type == "retracted":
        data["reason"] = reason
    else:
        manifest = manifest_for(revision)
        data.update(
            format="markdown",
            content=revision.content,
            content_sha256=revision.content_hash,
            # The AI disclosure block (docs/ai-disclosure.md), a copy of the signed manifest's.
            ai_disclosure=manifest["ai_disclosure"],
            provenance=sign_manifest(manifest),
        )
    for hook in PAYLOAD_HOOKS:
        for key, value in hook(draft).items():
            data.setdefault(key, value)
    return {"type": f"content.{event_type}", "timestamp": timezone.now().isoformat(), "data": data}


@transaction.atomic
def delivery_replay(*, delivery: Delivery, user: Any) -> Delivery:
    """Send a dead-lettered delivery again (same webhook-id: receivers deduplicate)."""
    if not draft_policy.user_has_permission_for_instance(user, "publish", delivery.draft):
        raise PermissionDenied("You cannot replay this delivery.")
    delivery = Delivery.objects.select_for_update().select_related("connector").get(pk=delivery.pk)
    if delivery.status != Delivery.Status.DEAD:
        raise ValidationError("Only a dead-lettered delivery can be replayed.")
    if not delivery.connector.is_active:
        raise ValidationError(f"The connector “{delivery.connector.name}” is disabled; enable it first.")
    delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    audit_log(action="governance.delivery.replay", obj=delivery, user=user, data={"attempts": delivery.attempt_count})

    delivery_id = delivery.pk
    transaction.on_commit(lambda: deliveries_enqueue([delivery_id]))
    return delivery


def webhook_headers(connector: Connector, webhook_id: str, when: datetime, body: str) -> dict[str, str]:
    signatures = [Webhook(connector.secret).sign(webhook_id, when, body)]
    if connector.previous_secret:
        signatures.append(Webhook(connector.previous_secret).sign(webhook_id, when, body))
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": " ".join(signatures),
        "user-agent": "AIOS-Editorial-Webhooks/1",
    }


def delivery_attempt(*, delivery_id: int) -> timedelta | None:
    """POST one attempt. Returns the delay before the next attempt, or None when finished.

    No transaction is held across the HTTP call: the attempt is claimed by a conditional update
    of its number, so two workers cannot send the same attempt, and a CMS that calls back into
    this database (the demo receiver does) never waits on our locks.
    """
    delivery = (
        Delivery.objects.select_related("connector")
        .filter(pk=delivery_id, status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING])
        .first()
    )
    if delivery is None:  # delivered or dead
        return None
    if delivery.next_attempt_at and delivery.next_attempt_at > timezone.now() + timedelta(seconds=1):
        # An early copy: the broker redelivers long-delayed tasks past its visibility timeout.
        return None
    number = delivery.attempt_count + 1
    claimed = Delivery.objects.filter(
        pk=delivery.pk, attempt_count=delivery.attempt_count,
        status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING],
    ).update(attempt_count=number)
    if not claimed:  # another worker is sending this attempt
        return None
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
    headers = webhook_headers(delivery.connector, delivery.webhook_id, timezone.now(), body)
    started = time.monotonic()
    status_code, excerpt, error = None, "", ""
    try:
        response = httpx.post(delivery.connector.url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT)
        status_code, excerpt = response.status_code, response.text[:500]
    except httpx.HTTPError as exc:
        error = f"{exc.__class__.__name__}: {exc}"
    latency = (time.monotonic() - started) * 1000
    return delivery_record(delivery=delivery, number=number, status_code=status_code, excerpt=excerpt,
                            error=error, latency=latency)


@transaction.atomic
def delivery_record(
    *, delivery: Delivery, number: int, status_code: int | None, excerpt: str, error: str, latency: float
) -> timedelta | None:
    DeliveryAttempt.objects.create(
        delivery=delivery, number=number, status_code=status_code, latency_ms=latency,
        response_excerpt=excerpt, error=error,
    )
    delivery.attempt_count = number
    ok = status_code is not None and 200 <= status_code < 300
    next_delay: timedelta | None = None
    if ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = Delivery.Status.DELIVERED, timezone.now(), None
        try:
            receipt = json.loads(excerpt) if excerpt else {}
        except ValueError:
            receipt = {}
        if isinstance(receipt, dict):
            delivery.remote_id = str(receipt.get("id", ""))[:200]
            delivery.remote_url = str(receipt.get("url", ""))[:500]
    elif status_code == 410:
        delivery.status, delivery.next_attempt_at = Delivery.Status.DEAD, None
        Connector.objects.filter(pk=delivery.connector_id).update(
            is_active=False, disabled_reason=f"The CMS answered 410 Gone to {delivery.webhook_id}.")
    elif number < len(RETRY_SCHEDULE):
        next_delay = RETRY_SCHEDULE[number]
        delivery.status, delivery.next_attempt_at = Delivery.Status.RETRYING, timezone.now() + next_delay
    else:
        delivery.status, delivery.next_attempt_at = Delivery.Status.DEAD, None
    delivery.save(update_fields=["attempt_count", "status", "delivered_at", "next_attempt_at", "remote_id",
                                 "remote_url"])
    audit_log(
        action=f"governance.delivery.{delivery.status}",
        obj=delivery,
        label="webhook delivery",
        data={"attempt": number, "status_code": status_code, "error": error[:200]},
    )
    draft_id = delivery.draft_id
    transaction.on_commit(lambda: push_draft_event(draft_id, {"kind": "delivery", "delivery": delivery.pk}))
    return next_delay


def webhook_verify(*, connector: Connector, body: str, headers: dict[str, str]) -> Any:
    """The payload of a request the CMS signed with the connector's secret (or the previous one while
    a rotation runs); PermissionDenied when the signature or its timestamp does not verify."""
    secrets_to_try = [connector.secret] + ([connector.previous_secret] if connector.previous_secret else [])
    error = "no secret"
    for secret in secrets_to_try:
        try:
            return Webhook(secret).verify(body, headers)
        except WebhookVerificationError as exc:
            error = str(exc)
    raise PermissionDenied(f"The callback's signature did not verify: {error}.")


@transaction.atomic
def inbound_callback_record(*, connector: Connector, body: str, headers: dict[str, str]) -> InboundCallback:
    """A CMS confirms or reports a failure for one of our deliveries, signed like our webhooks.

    The library refuses bad signatures and timestamps outside its tolerance (5 minutes); the
    webhook-id may be used once per connector, so a captured request cannot be replayed."""
    payload = webhook_verify(connector=connector, body=body, headers=headers)
    if not isinstance(payload, dict) or payload.get("type") not in ("delivery.confirmed", "delivery.failed"):
        raise ValidationError({"type": "Expected “delivery.confirmed” or “delivery.failed”."})
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    webhook_id = str(data.get("webhook_id") or "")
    delivery = Delivery.objects.select_for_update().filter(connector=connector, webhook_id=webhook_id).first()
    if delivery is None:
        raise ValidationError({"data.webhook_id": "No delivery with this webhook-id was sent to this connector."})
    callback_id = headers.get("webhook-id", "")
    if InboundCallback.objects.filter(connector=connector, webhook_id=callback_id).exists():
        raise InboundReplay(f"The callback {callback_id} was already processed.")
    confirmed = payload["type"] == "delivery.confirmed"
    callback = InboundCallback.objects.create(
        connector=connector, webhook_id=callback_id, delivery=delivery, payload=payload,
        status=InboundCallback.Status.CONFIRMED if confirmed else InboundCallback.Status.FAILED,
        detail=str(data.get("detail", ""))[:2000],
    )
    if confirmed:
        delivery.remote_id = str(data.get("id") or delivery.remote_id)[:200]
        delivery.remote_url = str(data.get("url") or delivery.remote_url)[:500]
        delivery.save(update_fields=["remote_id", "remote_url"])
    else:
        # The CMS took the request but could not apply it: dead-letter it, for a person to replay.
        delivery.status, delivery.next_attempt_at = Delivery.Status.DEAD, None
        delivery.save(update_fields=["status", "next_attempt_at"])
    audit_log(action=f"governance.callback.{callback.status}", obj=delivery, label=f"CMS {connector.name}",
              data={"callback": callback_id, "detail": callback.detail[:200]})
    return callback


class InboundReplay(Exception):
    """A callback whose webhook-id was already processed."""
