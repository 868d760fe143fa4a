"""Sign-offs, publishing and CMS delivery."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from editorial.models import Draft, Revision
from editorial.realtime import push_draft_event
from governance.audit import audit_log
from governance.gates import all_hard_gates_approved, gate_states, get_actions
from governance.models import Connector, Delivery, DeliveryAttempt, Gate, SignOff
from governance.permissions import draft_policy

# Standard Webhooks' suggested schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h.
RETRY_SCHEDULE = [timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
                  timedelta(hours=2), timedelta(hours=5), timedelta(hours=10)]
DELIVERY_TIMEOUT = 15.0


@transaction.atomic
def signoff_record(
    *, draft: Draft, gate: Gate, user: Any, decision: str, revision_id: int, comment: str = ""
) -> SignOff:
    """Sign a gate for the revision the reviewer saw. Re-checks everything under the draft's lock."""
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief", "current_revision").get(pk=draft.pk)
    if decision not in SignOff.Decision.values:
        raise ValidationError(f"Unknown decision {decision!r}.")
    if decision != SignOff.Decision.APPROVE and not comment.strip():
        raise ValidationError({"comment": "Say why: a reason is required to request changes or reject."})
    if draft.current_revision_id != revision_id:
        raise ValidationError("The draft changed since you opened it; review the latest revision and sign again.")
    state = next((s for s in gate_states(draft) if s.gate.pk == gate.pk), None)
    if state is None:
        raise ValidationError("This gate does not apply to this draft.")
    if decision not in get_actions(draft, state, user):
        if state.status == "approved":
            raise ValidationError(f"{gate.name} is already signed.")
        if state.status == "waiting":
            raise ValidationError(f"{gate.name} opens once the earlier stage is signed.")
        raise PermissionDenied(f"You cannot sign the {gate.name} gate.")
    signoff = SignOff.objects.create(
        draft=draft, revision_id=revision_id, gate=gate, user=user, decision=decision, comment=comment.strip()
    )
    old_status = draft.status
    if decision == SignOff.Decision.APPROVE:
        if all_hard_gates_approved(gate_states(draft)):
            draft.status = Draft.Status.APPROVED
    elif decision == SignOff.Decision.REQUEST_CHANGES:
        draft.status = Draft.Status.CHANGES_REQUESTED
        draft.status_reason = comment.strip()
    else:
        draft.status = Draft.Status.REJECTED
        draft.status_reason = comment.strip()
    if draft.status != old_status:
        draft.status_changed_at = timezone.now()
        draft.save(update_fields=["status", "status_reason", "status_changed_at"])
    audit_log(
        action=f"governance.gate.{decision}",
        obj=signoff,
        user=user,
        data={"draft": draft.pk, "gate": gate.slug, "revision": revision_id, "status": [old_status, draft.status]},
    )
    transaction.on_commit(lambda: push_draft_event(draft.pk, {"kind": "status", "status": draft.status}))
    return signoff


def delivery_payload(*, draft: Draft, revision: Revision, event_type: str) -> dict[str, Any]:
    # A person's edit keeps the provenance of the generation it started from.
    generated = draft.revisions.filter(author_run__isnull=False, number__lte=revision.number).order_by("-number").first()
    prov = (generated.provenance if generated else {}) or {}
    editors = sorted(set(
        draft.revisions.filter(author_user__isnull=False, number__lte=revision.number)
        .values_list("author_user__username", flat=True)
    ))
    return {
        "type": f"content.{event_type}",
        "timestamp": timezone.now().isoformat(),
        "data": {
            "draft_id": draft.pk,
            "revision_id": revision.pk,
            "revision_number": revision.number,
            "title": draft.title,
            "channel": draft.brief.channel,
            "format": "markdown",
            "content": revision.content,
            "content_sha256": revision.content_hash,
            "provenance": {
                "model": prov.get("model"),
                "model_version": prov.get("model_version"),
                "prompt_template_version": prov.get("prompt_template_version"),
                "sources": prov.get("sources", []),
                "edited_by": editors,
                "signoffs": [
                    {"gate": s.gate.slug, "by": s.user.username if s.user else s.external_recipient,
                     "at": s.created_at.isoformat()}
                    for s in draft.signoffs.filter(decision=SignOff.Decision.APPROVE).select_related("gate", "user")
                ],
            },
        },
    }


@transaction.atomic
def draft_publish(*, draft: Draft, user: Any) -> list[Delivery]:
    """Publish the approved revision: one delivery per active connector of the brand."""
    if not draft_policy.user_has_permission_for_instance(user, "publish", draft):
        raise PermissionDenied("You cannot publish this draft.")
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief", "current_revision").get(pk=draft.pk)
    if draft.status != Draft.Status.APPROVED or not all_hard_gates_approved(gate_states(draft)):
        raise ValidationError("Only a draft whose required gates are all signed can be published.")
    connectors = [
        c for c in Connector.objects.filter(brand=draft.brand, is_active=True)
        if not c.event_types or "published" in c.event_types
    ]
    if not connectors:
        raise ValidationError("This brand has no active CMS connector to publish to.")
    revision = draft.current_revision
    payload = delivery_payload(draft=draft, revision=revision, event_type="published")
    deliveries = [
        Delivery.objects.create(
            connector=c, draft=draft, revision=revision, event_type="published",
            webhook_id=f"msg_{uuid.uuid4().hex}", payload=payload, created_by=user,
            next_attempt_at=timezone.now(),
        )
        for c in connectors
    ]
    draft.status = Draft.Status.PUBLISHED
    draft.published_revision = revision
    draft.status_changed_at = timezone.now()
    draft.save(update_fields=["status", "published_revision", "status_changed_at"])
    audit_log(
        action="governance.draft.publish",
        obj=draft,
        user=user,
        data={"revision": revision.pk, "hash": revision.content_hash, "deliveries": [d.pk for d in deliveries]},
    )

    def enqueue() -> None:
        from governance.tasks import deliver

        for d in deliveries:
            deliver.delay(d.pk)
        push_draft_event(draft.pk, {"kind": "status", "status": draft.status})

    transaction.on_commit(enqueue)
    return deliveries


def _sign(connector: Connector, webhook_id: str, when: datetime, body: str) -> dict[str, str]:
    signature = Webhook(connector.secret).sign(webhook_id, when, body)
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
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
    headers = _sign(delivery.connector, delivery.webhook_id, timezone.now(), body)
    started = time.monotonic()
    status_code, excerpt, error = None, "", ""
    try:
        response = httpx.post(delivery.connector.url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT)
        status_code, excerpt = response.status_code, response.text[:500]
    except httpx.HTTPError as exc:
        error = f"{exc.__class__.__name__}: {exc}"
    latency = (time.monotonic() - started) * 1000
    return _delivery_record(delivery=delivery, number=number, status_code=status_code, excerpt=excerpt,
                            error=error, latency=latency)


@transaction.atomic
def _delivery_record(
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
        Connector.objects.filter(pk=delivery.connector_id).update(is_active=False)
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
