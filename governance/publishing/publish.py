"""Publishing a draft to the brand's CMS connectors: publish, retract, schedule and unschedule,
and the beat job that publishes scheduled drafts when their time comes."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from editorial.models import Draft, Revision
from editorial.notifications import notify_publish_failed
from editorial.realtime import push_draft_event
from editorial.transitions import draft_transition
from governance.audit import audit_log
from governance.gates import all_hard_gates_approved, gate_states
from governance.models import Connector, Delivery
from governance.permissions import draft_policy
from governance.publishing.delivery import deliveries_enqueue, delivery_payload
from governance.signoffs import approving_policy

PUBLISH_FAILED = "governance.draft.publish_failed"
SCHEDULE_FAILED = "governance.draft.schedule_failed"


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
        deliveries_enqueue([d.pk for d in deliveries])
        push_draft_event(draft.pk, {"kind": "status", "status": draft.status})

    transaction.on_commit(enqueue)
    return deliveries


@transaction.atomic
def draft_publish(*, draft: Draft, user: Any, connector_ids: list[int] | None = None,
                  policy: str = "") -> list[Delivery]:
    """Publish the approved revision to the brand's connectors: "published" the first time a connector
    gets this draft, "updated" after that. `policy`: published by the workflow's approval policy
    that signed it (no person; governance/signoffs.py signoffs_by_policy)."""
    if not policy and not draft_policy.user_has_permission_for_instance(user, "publish", draft):
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
        label=f"published by policy {policy}" if policy else "",
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
def draft_schedule(*, draft: Draft, user: Any, publish_at: datetime, policy: str = "") -> Draft:
    """Publish at a later time (Celery beat runs `publish_due`), on behalf of the person who scheduled,
    or of the workflow's approval `policy` that signed it (no person; governance/publishing/policy.py)."""
    if not policy and not draft_policy.user_has_permission_for_instance(user, "publish", draft):
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
    audit_log(action="governance.draft.schedule", obj=draft, user=user,
              label=f"scheduled by policy {policy}" if policy else "",
              data={"publish_at": publish_at.isoformat(), **({"policy": policy} if policy else {})})
    transaction.on_commit(lambda: push_draft_event(draft.pk, {"kind": "status", "status": draft.status}))
    return draft


@transaction.atomic
def draft_unschedule(*, draft: Draft, user: Any, policy: str = "") -> Draft:
    """Take the draft's schedule back: a person who may publish it, or the approval `policy` that
    scheduled it (no person; its batch's publishing time was cleared), whose own task then publishes it."""
    if not policy and not draft_policy.user_has_permission_for_instance(user, "publish", draft):
        raise PermissionDenied("You cannot change this draft's schedule.")
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=draft.pk)
    if draft.publish_at is None:
        raise ValidationError("This draft is not scheduled.")
    if policy and draft.publish_requested_by_id is not None:
        raise PermissionDenied("A person scheduled this draft; only a person changes that schedule.")
    draft.publish_at = None
    draft.save(update_fields=["publish_at"])
    audit_log(action="governance.draft.unschedule", obj=draft, user=user,
              label=f"unscheduled by policy {policy}" if policy else "", data={"policy": policy} if policy else None)
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
            # Scheduled by nobody: the approval policy that signed it scheduled it (its batch's time).
            policy = "" if draft.publish_requested_by_id else approving_policy(draft)
            try:
                with transaction.atomic():
                    draft_publish(draft=draft, user=draft.publish_requested_by, policy=policy)
                published.append(draft.pk)
            except (ValidationError, PermissionDenied) as exc:
                Draft.objects.filter(pk=draft.pk).update(publish_at=None)
                draft.publish_at = None
                publish_failure_record(draft=draft, action=SCHEDULE_FAILED, policy=policy,
                                       reason=" ".join(getattr(exc, "messages", [str(exc)])))
    return published


def publish_failure_record(*, draft: Draft, action: str, reason: str, policy: str = "") -> None:
    """A publish that did not happen (PUBLISH_FAILED, SCHEDULE_FAILED): audited on the draft with its
    reason, the people on it told, the page updated. The caller's transaction holds the draft's lock."""
    audit_log(action=action, obj=draft, label=f"policy {policy}" if policy else "scheduler",
              data={"reason": reason, **({"policy": policy} if policy else {})})
    notify_publish_failed(draft=draft, reason=reason, policy=policy)
    transaction.on_commit(lambda: push_draft_event(draft.pk, {"kind": "status", "status": draft.status}))
