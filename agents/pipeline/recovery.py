"""Stale-run sweeper: nothing stays "running" forever.

A worker killed with SIGKILL (or a machine that vanished) leaves its run "running" with a heartbeat
that no longer moves, and its task message unacknowledged in the broker until the visibility
timeout (longer than the hard time limit) brings it back. (A pool child killed on this host is
noticed sooner: Celery redelivers its task and the claim sees its owner is gone; see runs.py.) The
sweeper, on Celery beat, does not wait for either: a run whose heartbeat is older than
AIOS_RUN_STALE_SECONDS goes back to the queue and is enqueued again, or, when it already lost its
worker AIOS_RUN_MAX_TAKEOVERS times, fails with the reason through its kind's failure hook (a
shadow's failure never touches the draft). The claim makes a late redelivery of the old message
harmless, and the write step's per-section checkpoints make the new attempt resume after the last
finished section.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents.calls.budgets import budget_release_run
from agents.models import AgentRun
from agents.pipeline.kinds import run_fail
from agents.pipeline.runs import enqueue_run, max_takeovers, stale_after

log = logging.getLogger(__name__)
Status = AgentRun.Status


def runs_sweep_stale() -> dict[str, list[int]]:
    """Re-queue (or fail) runs whose worker stopped sending heartbeats. Returns the run ids touched."""
    cutoff = timezone.now() - stale_after()
    stale = list(AgentRun.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff).order_by("pk")
                 .values_list("pk", flat=True))
    requeued: list[int] = []
    failed: list[int] = []
    for run_id in stale:
        run = AgentRun.objects.select_related("draft").get(pk=run_id)
        budget_release_run(run=run)  # what the dead worker had reserved for its call in flight
        lost = run.attempt_count - run.error_count  # claims that did not end in a model error
        if lost >= max_takeovers():
            with transaction.atomic():
                # Claim it for failing, so a worker that comes back to life cannot also finish it.
                if not AgentRun.objects.filter(pk=run_id, status=Status.RUNNING, heartbeat_at__lt=cutoff).update(
                    heartbeat_at=timezone.now()
                ):
                    continue
                run.refresh_from_db()
                run_fail(
                    run=run,
                    reason=f"Its worker stopped responding {lost} times (no heartbeat for "
                    f"{stale_after().total_seconds():.0f} s); giving up.",
                )
            failed.append(run_id)
            continue
        with transaction.atomic():
            if AgentRun.objects.filter(pk=run_id, status=Status.RUNNING, heartbeat_at__lt=cutoff).update(
                status=Status.QUEUED, claimed_by="",
                error=f"Attempt {run.attempt_count}: the worker stopped responding; re-queued by the stale-run sweeper.",
            ):
                # Back to its draft's queue: a bulk run re-queued on the interactive one would jump the line.
                transaction.on_commit(lambda run_id=run_id, queue=run.draft.run_queue: enqueue_run(run_id, queue=queue))
                requeued.append(run_id)
    if requeued or failed:
        log.warning("stale runs: re-queued %s, failed %s", requeued, failed)
    return {"requeued": requeued, "failed": failed}


def lost_message_after() -> timedelta:
    """A run still "queued" this long after it was queued (or last claimed) has most likely lost its
    task message with a worker killed while holding it (the broker's visibility timeout would bring it
    back only after the hard time limit + 5 minutes)."""
    return timedelta(seconds=settings.AIOS_RUN_LOST_MESSAGE_SECONDS)


def runs_resend_lost() -> list[int]:
    """Send the task of every long-queued run again, to the queue of its draft. A duplicate message
    is harmless: the claim lets one delivery do the work and the others find nothing to do."""
    cutoff = timezone.now() - lost_message_after()
    lost = list(
        AgentRun.objects.filter(status=Status.QUEUED)
        .annotate(since=Coalesce("heartbeat_at", "created_at"))
        .filter(since__lt=cutoff)
        .values_list("pk", "draft__run_queue")
    )
    for run_id, queue in lost:
        enqueue_run(run_id, queue=queue)
    if lost:
        log.warning("queued runs re-sent (their message was presumably lost): %s", [r for r, _ in lost])
    return [r for r, _ in lost]
