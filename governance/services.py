"""Sign-offs, publishing and CMS delivery."""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from editorial.models import Draft, Revision
from editorial.realtime import push_draft_event
from editorial.transitions import draft_transition
from governance.audit import audit_log
from governance.gates import GateState, all_hard_gates_approved, gate_states, get_actions, unresolved_blocking_findings
from governance.models import (
    Connector,
    Delivery,
    DeliveryAttempt,
    Finding,
    FindingOverride,
    Gate,
    InboundCallback,
    ReviewLink,
    SignOff,
)
from governance.permissions import draft_policy, gate_policy

# Standard Webhooks' suggested schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h.
RETRY_SCHEDULE = [timedelta(0), timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
                  timedelta(hours=2), timedelta(hours=5), timedelta(hours=10)]
DELIVERY_TIMEOUT = 15.0


def _decide(
    *, draft: Draft, gate: Gate, decision: str, revision_id: int, comment: str, user: Any = None,
    external_recipient: str = "",
) -> SignOff:
    """Record one decision at a gate; the caller holds the draft's row lock and checked who decides."""
    signoff = SignOff.objects.create(
        draft=draft, revision_id=revision_id, gate=gate, user=user, external_recipient=external_recipient,
        decision=decision, comment=comment.strip(),
    )
    old_status = draft.status
    to, reason = old_status, None
    if decision == SignOff.Decision.APPROVE:
        if all_hard_gates_approved(gate_states(draft)):
            to = Draft.Status.APPROVED
    else:
        to = Draft.Status.CHANGES_REQUESTED if decision == SignOff.Decision.REQUEST_CHANGES else Draft.Status.REJECTED
        reason = comment.strip()
    draft_transition(
        draft=draft, to=to, reason=reason, action=f"governance.gate.{decision}", audit_obj=signoff, user=user,
        label=f"external: {external_recipient}" if external_recipient else "",
        data={"gate": gate.slug, "revision": revision_id, "comment": comment.strip()},
    )
    from editorial.notifications import notify_approved, notify_sent_back

    if decision == SignOff.Decision.REQUEST_CHANGES:
        notify_sent_back(draft=draft, actor=user, reason=comment.strip())
    elif draft.status == Draft.Status.APPROVED and old_status != Draft.Status.APPROVED:
        notify_approved(draft=draft, actor=user)
    return signoff


def _check_decision(*, draft: Draft, gate: Gate, decision: str, revision_id: int, comment: str) -> GateState:
    if decision not in SignOff.Decision.values:
        raise ValidationError(f"Unknown decision {decision!r}.")
    if decision != SignOff.Decision.APPROVE and not comment.strip():
        raise ValidationError({"comment": "Say why: a reason is required to request changes or reject."})
    if draft.current_revision_id != revision_id:
        raise ValidationError("The draft changed since you opened it; review the latest revision and sign again.")
    state = next((s for s in gate_states(draft) if s.gate.pk == gate.pk), None)
    if state is None:
        raise ValidationError("This gate does not apply to this draft.")
    if state.status == "approved":
        raise ValidationError(f"{gate.name} is already signed.")
    if state.status == "waiting":
        raise ValidationError(f"{gate.name} opens once the earlier stage is signed.")
    if draft.status != Draft.Status.IN_REVIEW or state.status != "pending":
        raise ValidationError(f"{gate.name} cannot be signed while the draft is “{draft.get_status_display()}”.")
    if decision == SignOff.Decision.APPROVE:
        blocking = unresolved_blocking_findings(draft)
        if blocking:
            raise ValidationError(
                f"{len(blocking)} blocking finding{'s' if len(blocking) != 1 else ''} must be fixed or overridden "
                "with a justification before approval."
            )
    return state


@transaction.atomic
def signoff_record(
    *, draft: Draft, gate: Gate, user: Any, decision: str, revision_id: int, comment: str = ""
) -> SignOff:
    """Sign a gate for the revision the reviewer saw. Re-checks everything under the draft's lock."""
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief", "current_revision").get(pk=draft.pk)
    state = _check_decision(draft=draft, gate=gate, decision=decision, revision_id=revision_id, comment=comment)
    if decision not in get_actions(draft, state, user, blocking=[]):
        raise PermissionDenied(f"You cannot sign the {gate.name} gate.")
    return _decide(draft=draft, gate=gate, decision=decision, revision_id=revision_id, comment=comment, user=user)


@transaction.atomic
def finding_override(*, finding: Finding, user: Any, justification: str) -> FindingOverride:
    """Let a blocking finding stand, with a written reason, by someone allowed to."""
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=finding.revision.draft_id)
    if not draft_policy.user_has_permission_for_instance(user, "view", draft):
        raise PermissionDenied("You cannot act on this draft.")
    if not user.has_perm("governance.override_finding"):
        raise PermissionDenied("Overriding a blocking finding needs the override permission.")
    if len(justification.strip()) < 10:
        raise ValidationError({"justification": "Write a justification (at least 10 characters)."})
    if finding.severity != Finding.Severity.BLOCKING:
        raise ValidationError("Only blocking findings need an override.")
    if finding.revision_id != draft.current_revision_id:
        raise ValidationError("This finding belongs to an older revision.")
    if FindingOverride.objects.filter(finding=finding).exists():
        raise ValidationError("This finding was already overridden.")
    override = FindingOverride.objects.create(finding=finding, user=user, justification=justification.strip())
    audit_log(
        action="governance.finding.override",
        obj=finding,
        user=user,
        data={"draft": draft.pk, "revision": finding.revision_id, "finding": finding.pk,
              "category": finding.category, "text": finding.text, "justification": override.justification},
    )
    return override


REVIEW_LINK_MAX_HOURS = 24 * 14


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def review_link_create(
    *, draft: Draft, gate: Gate, user: Any, recipient: str, hours: int = 72
) -> tuple[ReviewLink, str]:
    """An expiring, single-use link for an outside reviewer. Returns the link and its token (shown once)."""
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=draft.pk)
    if not gate_policy.user_can_sign(user, gate, draft):
        raise PermissionDenied(f"Only signers of the {gate.name} gate can send a review link for it.")
    if not recipient.strip():
        raise ValidationError({"recipient": "Say who receives the link."})
    if not 1 <= hours <= REVIEW_LINK_MAX_HOURS:
        raise ValidationError({"hours": f"A link lasts between 1 and {REVIEW_LINK_MAX_HOURS} hours."})
    state = next((s for s in gate_states(draft) if s.gate.pk == gate.pk), None)
    if draft.status != Draft.Status.IN_REVIEW or state is None or state.status not in ("pending", "waiting"):
        raise ValidationError(f"{gate.name} is not open for review.")
    token = secrets.token_urlsafe(32)
    link = ReviewLink.objects.create(
        draft=draft, gate=gate, revision_id=draft.current_revision_id, token_hash=_token_hash(token),
        recipient=recipient.strip(), created_by=user, expires_at=timezone.now() + timedelta(hours=hours),
    )
    audit_log(action="governance.review_link.create", obj=link, user=user,
              data={"draft": draft.pk, "gate": gate.slug, "recipient": link.recipient, "hours": hours})
    return link, token


def review_link_get(*, draft_id: int, token: str) -> ReviewLink:
    """The link for this token and this draft, if it can still be used; else a clear ValidationError."""
    link = (
        ReviewLink.objects.select_related("draft__brief", "gate", "revision")
        .filter(token_hash=_token_hash(token)).first()
    )
    if link is None or link.draft_id != draft_id:
        raise ValidationError("This review link is not valid for this item.")
    if link.used_at is not None:
        raise ValidationError("This review link has already been used.")
    if link.expires_at <= timezone.now():
        raise ValidationError("This review link has expired. Ask the sender for a new one.")
    return link


@transaction.atomic
def review_link_decide(*, draft_id: int, token: str, decision: str, comment: str = "") -> SignOff:
    """The outside reviewer's decision: approve or reject, once, on the revision they were sent."""
    if decision not in (SignOff.Decision.APPROVE, SignOff.Decision.REJECT):
        raise ValidationError("An outside reviewer can approve or reject.")
    ReviewLink.objects.select_for_update().filter(token_hash=_token_hash(token)).first()  # serialise double clicks
    link = review_link_get(draft_id=draft_id, token=token)
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief", "current_revision").get(pk=draft_id)
    if draft.current_revision_id != link.revision_id:
        raise ValidationError("The item changed after this link was sent; ask the sender for a new link.")
    _check_decision(draft=draft, gate=link.gate, decision=decision, revision_id=link.revision_id, comment=comment)
    signoff = _decide(draft=draft, gate=link.gate, decision=decision, revision_id=link.revision_id,
                      comment=comment, external_recipient=link.recipient)
    link.used_at, link.signoff = timezone.now(), signoff
    link.save(update_fields=["used_at", "signoff"])
    return signoff


def _remote_receipt(connector: Connector, draft: Draft) -> tuple[str, str]:
    """The CMS's own id and URL for this draft, from its latest receipt."""
    receipt = (
        Delivery.objects.filter(connector=connector, draft=draft).exclude(remote_id="")
        .order_by("-delivered_at", "-id").values_list("remote_id", "remote_url").first()
    )
    return receipt or ("", "")


def delivery_payload(*, draft: Draft, revision: Revision, event_type: str, connector: Connector,
                     reason: str = "") -> dict[str, Any]:
    """What a CMS receives: the content, its SHA-256, the signed provenance manifest, and the CMS's own
    id once a receipt has told us (so updates and retractions address the right item)."""
    from governance.provenance import manifest_for, sign_manifest

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
            provenance=sign_manifest(manifest),
        )
    return {"type": f"content.{event_type}", "timestamp": timezone.now().isoformat(), "data": data}


def _connectors_for(draft: Draft, event_type: str, *, only: list[int] | None = None) -> list[Connector]:
    connectors = Connector.objects.filter(brand=draft.brand, is_active=True).order_by("id")
    if only:
        connectors = connectors.filter(pk__in=only)
    return [c for c in connectors if not c.event_types or event_type in c.event_types]


def _deliveries_create(*, draft: Draft, revision: Revision, user: Any, events: list[tuple[Connector, str]],
                       reason: str = "") -> list[Delivery]:
    deliveries = [
        Delivery.objects.create(
            connector=connector, draft=draft, revision=revision, event_type=event_type,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            payload=delivery_payload(draft=draft, revision=revision, event_type=event_type, connector=connector,
                                     reason=reason),
            created_by=user, next_attempt_at=timezone.now(),
        )
        for connector, event_type in events
    ]

    def enqueue() -> None:
        from governance.tasks import deliver

        for d in deliveries:
            deliver.delay(d.pk)
        push_draft_event(draft.pk, {"kind": "status", "status": draft.status})

    transaction.on_commit(enqueue)
    return deliveries


@transaction.atomic
def draft_publish(*, draft: Draft, user: Any, connector_ids: list[int] | None = None) -> list[Delivery]:
    """Publish the approved revision to the brand's connectors: "published" the first time a connector
    gets this draft, "updated" after that."""
    if not draft_policy.user_has_permission_for_instance(user, "publish", draft):
        raise PermissionDenied("You cannot publish this draft.")
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief", "current_revision").get(pk=draft.pk)
    if draft.status != Draft.Status.APPROVED or not all_hard_gates_approved(gate_states(draft)):
        raise ValidationError("Only a draft whose required gates are all signed can be published.")
    # A connector that holds the piece now (its latest event for it was not a retraction) gets "updated".
    latest_event: dict[int, str] = {}
    for connector_id, event_type in Delivery.objects.filter(draft=draft).order_by("id").values_list(
        "connector_id", "event_type"
    ):
        latest_event[connector_id] = event_type
    earlier = {c for c, e in latest_event.items() if e in ("published", "updated")}
    events = []
    for connector in Connector.objects.filter(brand=draft.brand, is_active=True).order_by("id"):
        if connector_ids and connector.pk not in connector_ids:
            continue
        event_type = "updated" if connector.pk in earlier else "published"
        if not connector.event_types or event_type in connector.event_types:
            events.append((connector, event_type))
    if not events:
        raise ValidationError("This brand has no active CMS connector to publish to.")
    revision = draft.current_revision
    # Marked published (and audited) first, so the manifest inside each payload says so.
    draft_transition(
        draft=draft, to=Draft.Status.PUBLISHED, action="governance.draft.publish", user=user,
        fields={"published_revision": revision, "publish_at": None},
        data={"revision": revision.pk, "hash": revision.content_hash,
              "deliveries": [{"connector": c.pk, "event": e} for c, e in events]},
    )
    deliveries = _deliveries_create(draft=draft, revision=revision, user=user, events=events)
    return deliveries


@transaction.atomic
def draft_retract(*, draft: Draft, user: Any, reason: str) -> list[Delivery]:
    """Unpublish: the compensation for a publish. Every connector that was sent the piece gets a
    "retracted" event addressed by the CMS's own id."""
    if not draft_policy.user_has_permission_for_instance(user, "publish", draft):
        raise PermissionDenied("You cannot retract this draft.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the piece is retracted."})
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief").get(pk=draft.pk)
    if draft.published_revision_id is None or draft.status == Draft.Status.RETRACTED:
        raise ValidationError("Only a published draft can be retracted.")
    sent_to = set(
        Delivery.objects.filter(draft=draft, event_type__in=["published", "updated"]).values_list("connector_id", flat=True)
    )
    events = [(c, "retracted") for c in _connectors_for(draft, "retracted") if c.pk in sent_to]
    deliveries = _deliveries_create(draft=draft, revision=draft.published_revision, user=user, events=events,
                                    reason=reason.strip())
    draft_transition(draft=draft, to=Draft.Status.RETRACTED, reason=reason.strip(), action="governance.draft.retract",
                     user=user, data={"reason": reason.strip(), "deliveries": [d.pk for d in deliveries]})
    return deliveries


@transaction.atomic
def draft_schedule(*, draft: Draft, user: Any, publish_at: datetime) -> Draft:
    """Publish at a later time (Celery beat runs `publish_due`), on behalf of the person who scheduled."""
    if not draft_policy.user_has_permission_for_instance(user, "publish", draft):
        raise PermissionDenied("You cannot schedule this draft.")
    if timezone.is_naive(publish_at):
        raise ValidationError({"publish_at": "Give a time with its timezone."})
    if publish_at <= timezone.now():
        raise ValidationError({"publish_at": "The publication time must be in the future."})
    if publish_at > timezone.now() + timedelta(days=366 * 5):
        raise ValidationError({"publish_at": "Schedule at most five years ahead."})
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=draft.pk)
    if draft.status != Draft.Status.APPROVED:
        raise ValidationError("Only an approved draft can be scheduled.")
    draft.publish_at, draft.publish_requested_by = publish_at, user
    draft.save(update_fields=["publish_at", "publish_requested_by"])
    audit_log(action="governance.draft.schedule", obj=draft, user=user, data={"publish_at": publish_at.isoformat()})
    return draft


@transaction.atomic
def draft_unschedule(*, draft: Draft, user: Any) -> Draft:
    if not draft_policy.user_has_permission_for_instance(user, "publish", draft):
        raise PermissionDenied("You cannot change this draft's schedule.")
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=draft.pk)
    if draft.publish_at is None:
        raise ValidationError("This draft is not scheduled.")
    draft.publish_at = None
    draft.save(update_fields=["publish_at"])
    audit_log(action="governance.draft.unschedule", obj=draft, user=user)
    return draft


def publish_due(*, now: datetime | None = None) -> list[int]:
    """Publish every scheduled draft whose time has come; returns their ids. A draft that is no
    longer publishable loses its schedule, with the reason in the audit log."""
    now = now or timezone.now()
    published = []
    for draft_id in Draft.objects.filter(publish_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            draft = (
                Draft.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("publish_requested_by").filter(pk=draft_id, publish_at__lte=now).first()
            )
            if draft is None:
                continue
            try:
                with transaction.atomic():
                    draft_publish(draft=draft, user=draft.publish_requested_by)
                published.append(draft.pk)
            except (ValidationError, PermissionDenied) as exc:
                Draft.objects.filter(pk=draft.pk).update(publish_at=None)
                audit_log(action="governance.draft.schedule_failed", obj=draft, label="scheduler",
                          data={"reason": " ".join(getattr(exc, "messages", [str(exc)]))})
    return published


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

    def enqueue() -> None:
        from governance.tasks import deliver

        deliver.delay(delivery.pk)

    transaction.on_commit(enqueue)
    return delivery


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def connector_rotate_secret(*, connector: Connector, user: Any) -> str:
    """Start a rotation: a new secret signs from now on, and the old one keeps signing too (two
    signatures) until `connector_finish_rotation`, so receivers can switch without a gap."""
    connector = Connector.objects.select_for_update().get(pk=connector.pk)
    connector.previous_secret, connector.secret = connector.secret, new_webhook_secret()
    connector.secret_rotated_at = timezone.now()
    connector.save(update_fields=["previous_secret", "secret", "secret_rotated_at"])
    audit_log(action="governance.connector.rotate_secret", obj=connector, user=user)
    return connector.secret


@transaction.atomic
def connector_finish_rotation(*, connector: Connector, user: Any) -> Connector:
    connector = Connector.objects.select_for_update().get(pk=connector.pk)
    if not connector.previous_secret:
        raise ValidationError("No rotation is in progress.")
    connector.previous_secret = ""
    connector.save(update_fields=["previous_secret"])
    audit_log(action="governance.connector.finish_rotation", obj=connector, user=user)
    return connector


def _sign(connector: Connector, webhook_id: str, when: datetime, body: str) -> dict[str, str]:
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


@transaction.atomic
def inbound_callback_record(*, connector: Connector, body: str, headers: dict[str, str]) -> InboundCallback:
    """A CMS confirms or reports a failure for one of our deliveries, signed like our webhooks.

    The library refuses bad signatures and timestamps outside its tolerance (5 minutes); the
    webhook-id may be used once per connector, so a captured request cannot be replayed."""
    secrets_to_try = [connector.secret] + ([connector.previous_secret] if connector.previous_secret else [])
    payload = None
    for secret in secrets_to_try:
        try:
            payload = Webhook(secret).verify(body, headers)
            break
        except WebhookVerificationError as exc:
            error = str(exc)
    if payload is None:
        raise PermissionDenied(f"The callback's signature did not verify: {error}.")
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
