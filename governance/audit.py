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
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_AUDIT_CHAIN_LOCK])
    prev = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or ""
    event = AuditEvent(
        action=action,
        actor_user=user,
        actor_run=run,
        actor_label=label,
        object_type=object_type,
        object_id=str(object_id),
        data=json.loads(json.dumps(data or {}, cls=DjangoJSONEncoder)),
        prev_hash=prev,
    )
    event.hash = _event_digest(event)
    event.save()
    return event
