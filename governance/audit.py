"""The one way to write the audit log: in the caller's transaction, chained by hash."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from governance.models import AuditEvent

# Serialises writers so each event can chain to the previous one's hash.
_AUDIT_CHAIN_LOCK = 0x41_55_44_49_54  # "AUDIT"
_LOCK_THEN_HEAD = (
    f"SELECT pg_advisory_xact_lock({_AUDIT_CHAIN_LOCK}); "
    f'SELECT "hash" FROM "{AuditEvent._meta.db_table}" ORDER BY "id" DESC LIMIT 1'
)


def _as_stored_number(text: str) -> float | int:
    # jsonb prints numbers without an exponent, so a float from 1e16 up comes back as an integer:
    # hash it in that form, or the event would no longer match its hash once read back.
    value = float(text)
    return int(value) if abs(value) >= 1e16 else value


def _event_digest(event: AuditEvent) -> str:
    body = json.dumps(
        {
            "prev": event.prev_hash,
            "at": event.created_at.isoformat(),
            "action": event.action,
            "user": event.actor_user_id,
            "run": event.actor_run_id,
            "label": event.actor_label,
            "type": event.object_type,
            "id": event.object_id,
            "data": event.data,
        },
        sort_keys=True,
        cls=DjangoJSONEncoder,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def audit_log(
    *,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    user: Any = None,
    run: Any = None,
    label: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record `action` (dotted, e.g. `editorial.draft.approve`) by a user, an agent run or a label."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    with connection.cursor() as cursor:
        # One round trip: the lock, then the newest hash. Sent without parameters, the two
        # statements go as one simple query, and each statement takes its own snapshot (READ
        # COMMITTED), so the second sees every event committed before the lock was granted.
        cursor.execute(_LOCK_THEN_HEAD)
        cursor.nextset()
        row = cursor.fetchone()
    prev = row[0] if row else ""
    event = AuditEvent(
        action=action,
        actor_user=user,
        actor_run=run,
        actor_label=label,
        object_type=object_type,
        object_id=str(object_id),
        data=json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder), parse_float=_as_stored_number),
        prev_hash=prev,
    )
    event.hash = _event_digest(event)
    event.save()
    return event


AUDIT_EXPORT_FIELDS = (
    "id", "created_at", "action", "actor_user", "actor_username", "actor_run", "actor_label",
    "object_type", "object_id", "data", "prev_hash", "hash",
)


def audit_event_record(event: AuditEvent) -> dict[str, Any]:
    """An event as plain JSON values, each hashed input in the form `_event_digest` hashed it (the
    full-precision timestamp, not DjangoJSONEncoder's milliseconds), so an export can be re-checked
    outside this application. Select `actor_user` with the events."""
    return {
        "id": event.pk,
        "created_at": event.created_at.isoformat(),
        "action": event.action,
        "actor_user": event.actor_user_id,
        "actor_username": event.actor_user.get_username() if event.actor_user_id else "",
        "actor_run": event.actor_run_id,
        "actor_label": event.actor_label,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _short(digest: str) -> str:
    return digest[:12] if digest else "(empty)"


def audit_verify() -> tuple[int, AuditEvent | None, str]:
    """Walk the log in id order, the order `audit_log` chains it in: each event's hash must match
    its contents, and its prev_hash the hash of the event before it.

    Returns (events checked, the first broken event or None, what is wrong with it). The chain
    alone cannot show that the newest events (or all of them) were removed: compare against a head
    hash recorded elsewhere for that (`manage.py audit_verify --anchor`).
    """
    checked = 0
    previous: AuditEvent | None = None
    # One query, so one snapshot: writers that commit meanwhile only ever add to the end.
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        checked += 1
        expected = previous.hash if previous is not None else ""
        if event.prev_hash != expected:
            if previous is None:
                reason = (f"prev_hash is {_short(event.prev_hash)} but this is the oldest event left: "
                          "the events before it were removed")
            else:
                reason = (f"prev_hash {_short(event.prev_hash)} does not match the hash of the event before it "
                          f"(#{previous.pk}, {_short(previous.hash)}): an event between them was removed, "
                          "or one of them was altered")
            return checked, event, reason
        digest = _event_digest(event)
        if digest != event.hash:
            return checked, event, (f"hash {_short(event.hash)} does not match its contents "
                                    f"(recomputed {_short(digest)}): the event was altered")
        previous = event
    return checked, None, ""
