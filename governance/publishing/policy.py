"""Publishing what a workflow approved by policy, without a person.

The approval commits with the check step (agents/pipeline/steps.py); the publish happens after it, in
its own task (`governance.publish_by_policy`, enqueued by name on commit), so a publish that fails never
fails the check run. The draft goes out at once, or is scheduled (`draft_schedule`, published by beat's
`publish_due`) for the time a higher layer gives through a hook: a bulk batch's "publish approved-by-
policy drafts at". A time already passed means at once. A publish that cannot happen is audited with
its reason (`governance.draft.publish_failed`), shown on the draft page, and the editor is notified;
the draft stays approved for a person to publish or schedule.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from aios.celery import app
from editorial.models import Draft
from governance.models import AuditEvent
from governance.publishing.publish import (
    PUBLISH_FAILED, SCHEDULE_FAILED, draft_publish, draft_schedule, publish_failure_record,
)
from governance.signoffs import approving_policy

log = logging.getLogger(__name__)

# Enqueued by name, like deliveries (see publishing/delivery.py DELIVER_TASK): the task imports this module.
POLICY_PUBLISH_TASK = "governance.publish_by_policy"
# What a person (or the scheduler) did about publishing since: a failure older than these is settled.
PUBLISH_ACTIONS = ("governance.draft.publish", "governance.draft.schedule", "governance.draft.unschedule")
# Errors worth another try of the task (the database was away); anything else is recorded as a failure.
TRANSIENT = (OperationalError, InterfaceError)

# When a draft approved by policy should go out (None: at once). Registered by higher layers (the
# bulk batches), never imported here; the first hook with an answer wins.
PUBLISH_AT_HOOKS: list[Callable[[Draft], datetime | None]] = []


def publish_at_hook_register(hook: Callable[[Draft], datetime | None]) -> None:
    if hook not in PUBLISH_AT_HOOKS:
        PUBLISH_AT_HOOKS.append(hook)


def policy_publish_at(draft: Draft) -> datetime | None:
    for hook in PUBLISH_AT_HOOKS:
        when = hook(draft)
        if when is not None:
            return when
    return None


def policy_publish_enqueue(*, draft: Draft) -> None:
    """In the approval's transaction: publish (or schedule) the draft once the approval is committed,
    on the draft's own queue (a batch's drafts on the bulk queue, so they never hold up the desk)."""
    draft_id, queue = draft.pk, draft.run_queue or settings.AIOS_INTERACTIVE_QUEUE
    transaction.on_commit(lambda: app.send_task(POLICY_PUBLISH_TASK, args=(draft_id,), queue=queue))


def draft_publish_by_policy(*, draft_id: int, now: datetime | None = None) -> str:
    """The task's work: publish a draft its workflow approved by policy, or schedule it for its
    batch's time. Returns "published", "scheduled", "failed" (audited, shown, notified) or "skipped"
    (nothing to do: not approved by policy, already published or scheduled, e.g. a second delivery
    of the task). Transient database errors propagate, for the task to try again."""
    now = now or timezone.now()
    with transaction.atomic():
        draft = (Draft.objects.select_for_update(of=("self",)).select_related("brief", "brand", "current_revision")
                 .filter(pk=draft_id).first())
        if draft is None or draft.status != Draft.Status.APPROVED or draft.publish_at is not None:
            return "skipped"
        policy = approving_policy(draft)
        if not policy:
            return "skipped"  # a person signed the last gate: a person publishes
        when = policy_publish_at(draft)
        try:
            with transaction.atomic():
                # A time within a second from now counts as come: draft_schedule would refuse it as past.
                if when is not None and when > now + timedelta(seconds=1):
                    draft_schedule(draft=draft, user=None, publish_at=when, policy=policy)
                    return "scheduled"
                draft_publish(draft=draft, user=None, policy=policy)
                return "published"
        except (ValidationError, PermissionDenied) as exc:
            reason = " ".join(getattr(exc, "messages", None) or [str(exc)])
        except TRANSIENT:
            raise
        except Exception as exc:  # a payload hook's or the manifest's error: the draft must not go unseen
            log.exception("publishing draft %s by policy failed", draft_id)
            reason = f"Publishing failed unexpectedly ({type(exc).__name__}); the team has the details in the log."
        publish_failure_record(draft=draft, action=PUBLISH_FAILED, reason=reason, policy=policy)
        return "failed"


def publish_problem(draft: Draft) -> dict[str, Any] | None:
    """Why an approved draft did not go out, if its last publishing event was a failure (for the draft
    page): {"reason", "at", "policy", "scheduled"}; None once it was published, scheduled or unscheduled
    since, or approved again."""
    if draft.status != Draft.Status.APPROVED or draft.publish_at is not None:
        return None
    event = (AuditEvent.objects.filter(object_type=Draft._meta.label_lower, object_id=str(draft.pk),
                                       action__in=(PUBLISH_FAILED, SCHEDULE_FAILED, *PUBLISH_ACTIONS))
             .order_by("-id").only("action", "data", "created_at").first())
    if event is None or event.action not in (PUBLISH_FAILED, SCHEDULE_FAILED):
        return None
    if event.created_at < draft.status_changed_at:
        return None  # it failed before the draft was approved again (sent back and re-approved since)
    return {"reason": event.data.get("reason", ""), "at": event.created_at, "policy": event.data.get("policy", ""),
            "scheduled": event.action == SCHEDULE_FAILED}
