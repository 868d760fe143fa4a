"""Circuit breaker per model version.

closed ──(AIOS_BREAKER_THRESHOLD consecutive failed calls)──► open ──(cool-down)──► half-open
half-open lets exactly one probe call through (claimed by a conditional update, so two workers
never probe at once); the probe's success closes the breaker, its failure opens it again.

Only transient failures count (timeouts, 429, 5xx, broken streams): a permanent error such as
a 400 says something about the request, not about the health of the model server. The state
lives on the ModelVersion row so every worker sees it; every transition is audited.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agents.models import BreakerState, ModelVersion
from governance.audit import audit_log


def _cooldown() -> timedelta:
    return timedelta(seconds=settings.AIOS_BREAKER_COOLDOWN_SECONDS)


def _transition(version_id: int, *, old: str, new: str, reason: str, run=None, **update) -> bool:
    """Move the breaker from `old` to `new` if it is still in `old`; audit it. True if this caller did."""
    with transaction.atomic():
        changed = ModelVersion.objects.filter(pk=version_id, breaker_state=old).update(breaker_state=new, **update)
        if changed:
            audit_log(
                action=f"agents.breaker.{new}", object_type="agents.modelversion", object_id=version_id, run=run,
                data={"from": old, "to": new, "reason": reason},
            )
    return bool(changed)


def breaker_allow(version: ModelVersion, *, run=None) -> bool:
    """May a call go to this version now? An open breaker past its cool-down admits one probe."""
    version.refresh_from_db(fields=["breaker_state", "breaker_failures", "breaker_opened_at"])
    if version.breaker_state == BreakerState.CLOSED:
        return True
    now = timezone.now()
    if version.breaker_opened_at and version.breaker_opened_at > now - _cooldown():
        return False
    # Open past its cool-down, or half-open whose probe never reported (its worker died): this
    # caller becomes the probe if its conditional update wins. `breaker_opened_at` is set to now
    # so that a lost probe is replaced only after another cool-down.
    with transaction.atomic():
        won = (
            ModelVersion.objects.filter(pk=version.pk, breaker_state=version.breaker_state)
            .filter(Q(breaker_opened_at__isnull=True) | Q(breaker_opened_at__lte=now - _cooldown()))
            .update(breaker_state=BreakerState.HALF_OPEN, breaker_opened_at=now)
        )
        if won:
            audit_log(
                action="agents.breaker.half_open", obj=version, run=run,
                data={"from": version.breaker_state, "to": BreakerState.HALF_OPEN,
                      "reason": "cool-down over: one probe call allowed"},
            )
    return bool(won)


def breaker_record_success(version: ModelVersion, *, run=None) -> None:
    if version.breaker_state == BreakerState.CLOSED and not version.breaker_failures:
        # As read by breaker_allow just before the call: nothing to reset (the common case).
        # A failure counted meanwhile by another worker stays counted, as it should.
        return
    ModelVersion.objects.filter(pk=version.pk, breaker_state=BreakerState.CLOSED, breaker_failures__gt=0).update(
        breaker_failures=0
    )
    for old in (BreakerState.HALF_OPEN, BreakerState.OPEN):
        if _transition(version.pk, old=old, new=BreakerState.CLOSED, reason="a call succeeded", run=run,
                       breaker_failures=0, breaker_opened_at=None):
            break


def breaker_record_failure(version: ModelVersion, *, reason: str, run=None) -> None:
    """Count a transient failure; open the breaker at the threshold, or re-open it after a failed probe."""
    now = timezone.now()
    if _transition(version.pk, old=BreakerState.HALF_OPEN, new=BreakerState.OPEN, reason=f"the probe failed: {reason}",
                   run=run, breaker_opened_at=now, breaker_failures=F("breaker_failures") + 1):
        return
    ModelVersion.objects.filter(pk=version.pk).update(breaker_failures=F("breaker_failures") + 1)
    threshold = settings.AIOS_BREAKER_THRESHOLD
    with transaction.atomic():
        opened = ModelVersion.objects.filter(
            pk=version.pk, breaker_state=BreakerState.CLOSED, breaker_failures__gte=threshold
        ).update(breaker_state=BreakerState.OPEN, breaker_opened_at=now)
        if opened:
            audit_log(
                action="agents.breaker.open", object_type="agents.modelversion", object_id=version.pk, run=run,
                data={"from": BreakerState.CLOSED, "to": BreakerState.OPEN,
                      "reason": f"{threshold} consecutive failed calls; last: {reason}"},
            )


def breaker_probe_now(version: ModelVersion, *, user=None) -> None:
    """A person retrying a draft that needed a human: let the next call probe each open breaker of
    the version's chain at once instead of waiting out the cool-down."""
    for candidate in fallback_chain(version):
        if ModelVersion.objects.filter(pk=candidate.pk, breaker_state=BreakerState.OPEN).update(breaker_opened_at=None):
            audit_log(action="agents.breaker.probe_requested", obj=candidate, user=user,
                      data={"reason": "a person retried a draft that needed a human"})


def fallback_chain(version: ModelVersion) -> Iterator[ModelVersion]:
    """The version, then its fallback, that one's fallback, … (each once; retired ones skipped).
    Lazy: the usual caller stops at the first version whose breaker is closed."""
    seen: set[int] = set()
    current: ModelVersion | None = version
    while current is not None and current.pk not in seen:
        seen.add(current.pk)
        if current is version or current.status != ModelVersion.Status.RETIRED:
            yield current
        current = ModelVersion.objects.filter(pk=current.fallback_id).first() if current.fallback_id else None
