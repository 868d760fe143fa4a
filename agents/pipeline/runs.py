"""Agent runs, whatever their kind: create and enqueue, claim, heartbeat, finish, fail, wait.

This module knows no kind of run; `agents/pipeline/kinds.py` says what each kind does.

* A run is claimed by a conditional update, so a task delivered twice does its work once. The claim
  records its owner (`host:pid`). A redelivered task that finds the run claimed by a process of this
  host that no longer exists (a pool child killed mid-write) takes it over at once; one that finds a
  live owner, or one it cannot check (another host), tries again after the stale interval instead of
  returning with nothing done.
* Heartbeats are fenced by the attempt number: a worker whose claim was taken over stops.
* `attempt_count` counts claims; `error_count` counts model errors. Only model errors use up the
  retries (`MAX_ATTEMPTS`); a lost worker does not.
"""
from __future__ import annotations

import math
import os
import socket
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from agents.models import AgentRun
from aios.celery import app
from editorial.models import Draft
from editorial.realtime import push_draft_event
from governance.audit import audit_log

Kind = AgentRun.Kind
Status = AgentRun.Status
# Model errors a run may meet before it fails (each is a Celery retry with backoff).
MAX_ATTEMPTS = 3
# Enqueued by name: the task module imports the pipeline, never the other way round.
RUN_TASK = "agents.run_step"
# What the steps read of a claimed run, joined in its one query (the draft's own versions are read,
# when a step needs them, through the run's: a claim happens four times per draft).
RUN_RELATED = ("draft__brief__brand", "model_version", "prompt_version")


def stale_after() -> timedelta:
    """A run still "running" without a heartbeat for this long lost its worker and may be claimed again."""
    return timedelta(seconds=settings.AIOS_RUN_STALE_SECONDS)


def max_takeovers() -> int:
    """How many lost workers a run survives before it fails (a safety net against a run that kills
    its worker every time, e.g. by exhausting memory)."""
    return settings.AIOS_RUN_MAX_TAKEOVERS


class TransientRunError(Exception):
    """The step failed in a way that may succeed later; the task retries after `countdown`."""

    def __init__(self, message: str, *, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


class ClaimLost(Exception):
    """This worker's claim on the run was taken over (it was thought dead): stop without writing."""


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_gone(owner: str) -> bool:
    """True only when `owner` is a process of this host that no longer exists."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# --- creating -----------------------------------------------------------------------------------

def enqueue_run(run_id: int, *, queue: str | None = None) -> None:
    """Send the run's task to `queue` (the draft's `run_queue`): workers take the interactive queue
    before the bulk one, so a brief filed in the desk never waits behind a batch."""
    app.send_task(RUN_TASK, args=[run_id], queue=queue or settings.AIOS_INTERACTIVE_QUEUE)


def run_create(*, draft: Any, kind: str, key: str, **fields: Any) -> AgentRun:
    """Create (or find, when `key` was used before) a queued run and enqueue it on commit."""
    # By id: the draft at hand (often just locked) need not load its versions for this.
    defaults = {
        "draft": draft,
        "kind": kind,
        "model_version_id": draft.model_version_id if kind == Kind.WRITE else None,
        "prompt_version_id": draft.prompt_version_id if kind in (Kind.PLAN, Kind.WRITE) else None,
    }
    for name in ("model_version", "prompt_version"):
        if name in fields:  # the caller's own choice
            defaults.pop(f"{name}_id")
    defaults.update(fields)
    # Insert first: the key is new but for a redelivered task (get_or_create would look it up every time).
    try:
        with transaction.atomic():
            run = AgentRun.objects.create(idempotency_key=key, **defaults)
    except IntegrityError:
        existing = AgentRun.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise  # another constraint than the key's
        return existing
    queue = getattr(draft, "run_queue", None)
    transaction.on_commit(lambda: enqueue_run(run.pk, queue=queue))
    return run


# --- claiming -----------------------------------------------------------------------------------

class RunBusy(Exception):
    """Another process holds the run and may still be working on it: try again after `countdown`."""

    def __init__(self, message: str, *, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


def share_rows(target: Any, **rows: Any) -> None:
    """Give `target` the already loaded `rows` (foreign key name → row) that it points at, so reading
    them costs no query: a draft's brand is its brief's, its versions are usually its run's."""
    for name, row in rows.items():
        field = type(target)._meta.get_field(name)
        if row is not None and getattr(target, field.attname) == row.pk:
            field.set_cached_value(target, row)


def loaded_rows(obj: Any, *names: str) -> dict[str, Any]:
    """Of `obj`'s foreign keys `names`, the rows already loaded (name → row); reading costs no query."""
    fields = (type(obj)._meta.get_field(name) for name in names)
    return {field.name: field.get_cached_value(obj) for field in fields if field.is_cached(obj)}


def claimed(run_id: int, *, beat_at: float) -> AgentRun:
    """The claimed run with what its step reads, in one query (RUN_RELATED). `beat_at` (monotonic):
    the claim wrote the heartbeat then, so `run_heartbeat` counts from it."""
    run = AgentRun.objects.select_related(*RUN_RELATED).get(pk=run_id)
    run.__dict__["beat_at_monotonic"] = beat_at
    share_rows(run.draft, brand=run.draft.brief.brand, prompt_version=run.prompt_version,
               model_version=run.model_version)
    return run


def run_claim(*, run_id: int) -> AgentRun | None:
    """Claim the run for this process, or None when there is nothing to do (finished, failed, or
    unknown). Raises RunBusy when a live (or uncheckable) owner holds a fresh claim."""
    beat_at, now = time.monotonic(), timezone.now()
    me = owner_id()
    fields = {"status": Status.RUNNING, "attempt_count": F("attempt_count") + 1,
              "started_at": Coalesce(F("started_at"), now), "heartbeat_at": now, "claimed_by": me}
    claimable = Q(status=Status.QUEUED) | Q(status=Status.RUNNING, heartbeat_at__lt=now - stale_after())
    if AgentRun.objects.filter(pk=run_id).filter(claimable).update(**fields):
        return claimed(run_id, beat_at=beat_at)
    row = AgentRun.objects.filter(pk=run_id).values("status", "claimed_by", "attempt_count", "heartbeat_at").first()
    if row is None or row["status"] != Status.RUNNING:
        return None
    if row["claimed_by"] and owner_is_gone(row["claimed_by"]):
        # Its process died mid-run (the task came back because of reject-on-worker-lost): take it over
        # now, fenced on the exact claim we saw, rather than waiting for the heartbeat to go stale.
        if AgentRun.objects.filter(pk=run_id, status=Status.RUNNING, claimed_by=row["claimed_by"],
                                   attempt_count=row["attempt_count"]).update(**fields):
            return claimed(run_id, beat_at=beat_at)
        return None
    wait = stale_after().total_seconds()
    if row["heartbeat_at"] is not None:
        wait = max(1.0, (row["heartbeat_at"] + stale_after() - now).total_seconds() + 1)
    raise RunBusy(f"run {run_id} is held by {row['claimed_by'] or 'another worker'}", countdown=wait)


def run_heartbeat(run: AgentRun, *, unless_within: float = 0.0) -> None:
    """Mark the run alive. Fenced by the attempt number: after the run was given to another worker,
    this one stops (ClaimLost) instead of writing the same section alongside it. `unless_within`
    skips the write when this process beat less than that many seconds ago: a takeover needs
    AIOS_RUN_STALE_SECONDS of silence, far longer, so a skipped beat never hides one."""
    now = time.monotonic()
    if unless_within and now - run.__dict__.get("beat_at_monotonic", -math.inf) < unless_within:
        return
    if not AgentRun.objects.filter(pk=run.pk, status=Status.RUNNING, attempt_count=run.attempt_count).update(
        heartbeat_at=timezone.now()
    ):
        raise ClaimLost(f"run {run.pk} attempt {run.attempt_count} was taken over")
    run.__dict__["beat_at_monotonic"] = now


def progress_event(run: AgentRun, **extra: Any) -> dict[str, Any]:
    return {"kind": "run", "run": run.pk, "step": run.kind, "status": run.status, **extra}


def previous_output(draft: Any, kind: str, *, related: tuple[str, ...] = (),
                    prefetch: tuple[str, ...] = ()) -> AgentRun:
    """The latest succeeded run of `kind`, with the `related` rows joined and `prefetch` fetched."""
    runs = AgentRun.objects.filter(draft=draft, kind=kind, status=Status.SUCCEEDED)
    return runs.select_related(*related).prefetch_related(*prefetch).latest("finished_at")


def previous_value(draft: Any, kind: str, field: str) -> Any:
    """One field of the latest succeeded run of `kind` (what `previous_output` gives, without the
    rest of the row)."""
    return (AgentRun.objects.filter(draft=draft, kind=kind, status=Status.SUCCEEDED).order_by("-finished_at")
            .values_list(field, flat=True)[:1].get())


# --- finishing ----------------------------------------------------------------------------------

def run_mark_succeeded(*, run: AgentRun, latency_ms: float, audit: dict[str, Any] | None = None) -> AgentRun:
    """In the caller's transaction: the run succeeded (saving what the step put on it), audited."""
    run.status = Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.latency_ms = latency_ms
    run.error = ""
    run.save()
    audit_log(action=f"agents.run.{run.kind}.succeed", obj=run, run=run,
              data={"draft": run.draft_id, **(audit or {})})
    return run


def run_mark_failed(*, run: AgentRun, reason: str, audit: dict[str, Any] | None = None) -> AgentRun:
    """In the caller's transaction: the run failed with `reason`, audited."""
    run.status = Status.FAILED
    run.error = reason
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "model_name", "ttft_ms"])
    audit_log(action=f"agents.run.{run.kind}.fail", obj=run, run=run,
              data={"draft": run.draft_id, "error": reason, **(audit or {})})
    return run


def run_retry_later(*, run: AgentRun, reason: str, countdown: float, counts: bool = True,
                    publish: bool = True) -> None:
    """Give the run back to the queue and raise TransientRunError for the task to retry after
    `countdown`. `counts`: a model error (uses one of MAX_ATTEMPTS); waiting for budget does not."""
    update: dict[str, Any] = {"status": Status.QUEUED, "error": reason, "claimed_by": ""}
    if counts:
        update["error_count"] = F("error_count") + 1
    else:
        update["attempt_count"] = Greatest(F("attempt_count") - 1, 0)
    AgentRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(**update)
    if publish:
        push_draft_event(run.draft_id, progress_event(run, retrying_in=round(countdown, 1), error=reason))
    raise TransientRunError(reason, countdown=countdown)


def run_wait_for_budget(*, run: AgentRun, reason: str, countdown: float, publish: bool = True) -> None:
    """Put the run back in the queue until budget frees up; waiting uses none of its attempts."""
    message = f"Waiting for budget: {reason} Next check in {countdown:.0f} s."
    if publish:
        # Not a change of state (still generating), just the reason the desk shows meanwhile.
        Draft.objects.filter(pk=run.draft_id, status=Draft.Status.GENERATING).update(status_reason=message)
    run_retry_later(run=run, reason=message, countdown=countdown, counts=False, publish=publish)


def lock_draft(run: AgentRun) -> Draft:
    # Lock order everywhere: the draft row first, then the audit chain's advisory lock (audit_log).
    # Taking them the other way round deadlocked against a claim or edit of the same draft.
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=run.draft_id)
    # The rows the claim loaded (brief and versions are immutable; the brand is seconds old).
    claim = loaded_rows(run, "draft").get("draft")
    if claim is not None:
        share_rows(draft, **loaded_rows(claim, "brief", "brand", "prompt_version", "model_version"))
    return draft
