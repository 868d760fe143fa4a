"""Stale-run sweeper: nothing stays "running" forever.

A worker killed with SIGKILL (or a machine that vanished) leaves its run "running" with a heartbeat
that no longer moves, and its task message unacknowledged in the broker until the visibility
timeout (longer than the hard time limit) brings it back. The sweeper, on Celery beat, does not
wait that long: a run whose heartbeat is older than AIOS_RUN_STALE_SECONDS goes back to the queue
and is enqueued again, or, when it already used MAX_ATTEMPTS, fails with the reason. The claim
(a conditional update in `run_claim`) makes a late redelivery of the old message harmless, and
the write step's per-section checkpoints make the new attempt resume after the last finished
section.
"""
from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from agents import services
from agents.models import AgentRun

log = logging.getLogger(__name__)
Status = AgentRun.Status


def _enqueue(run_id: int, kind: str) -> None:
    if kind == AgentRun.Kind.SHADOW:  # shadow writes have their own task and never touch the draft
        from agents.shadow import enqueue_shadow

        enqueue_shadow(run_id)
    else:
        services.enqueue_run(run_id)


def runs_sweep_stale() -> dict[str, list[int]]:
    """Re-queue (or fail) runs whose worker stopped sending heartbeats. Returns the run ids touched."""
    from agents.calls.budgets import budget_release_run

    cutoff = timezone.now() - services.stale_after()
    stale = list(
        AgentRun.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff)
        .select_related("draft")
        .values_list("pk", "attempt_count")
    )
    requeued: list[int] = []
    failed: list[int] = []
    for run_id, attempts in stale:
        run = AgentRun.objects.select_related("draft").get(pk=run_id)
        budget_release_run(run=run)  # what the dead worker had reserved for its call in flight
        if attempts >= services.MAX_ATTEMPTS:
            with transaction.atomic():
                # Claim it for failing, so a worker that comes back to life cannot also finish it.
                if not AgentRun.objects.filter(pk=run_id, status=Status.RUNNING, heartbeat_at__lt=cutoff).update(
                    heartbeat_at=timezone.now()
                ):
                    continue
                run.refresh_from_db()
                fail = services.run_fail
                if run.kind == AgentRun.Kind.SHADOW:  # a shadow's failure never touches the draft
                    from agents.shadow import shadow_fail as fail
                fail(
                    run=run,
                    reason=f"Its worker stopped responding {attempts} times (no heartbeat for "
                    f"{services.stale_after().total_seconds():.0f} s); giving up.",
                )
            failed.append(run_id)
            continue
        with transaction.atomic():
            if AgentRun.objects.filter(pk=run_id, status=Status.RUNNING, heartbeat_at__lt=cutoff).update(
                status=Status.QUEUED,
                error=f"Attempt {attempts}: the worker stopped responding; re-queued by the stale-run sweeper.",
            ):
                transaction.on_commit(lambda run_id=run_id, kind=run.kind: _enqueue(run_id, kind))
                requeued.append(run_id)
    if requeued or failed:
        log.warning("stale runs: re-queued %s, failed %s", requeued, failed)
    return {"requeued": requeued, "failed": failed}
