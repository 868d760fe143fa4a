"""The Celery tasks of the agents: thin, they take ids and call the pipeline (agents/pipeline/)."""
from __future__ import annotations

from agents.pipeline.kinds import run_execute
from agents.pipeline.recovery import runs_resend_lost, runs_sweep_stale
from agents.pipeline.runs import TransientRunError
from aios.celery import app
from editorial.sourceflags import documents_expired_sweep


def _execute(task, run_id: int) -> None:
    try:
        run_execute(run_id=run_id)
    except TransientRunError as exc:
        raise task.retry(countdown=exc.countdown, exc=exc) from exc


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, name="agents.run_step")
def run_step(self, run_id: int) -> None:
    """Any kind of run (agents/pipeline/kinds.py): the claim makes a redelivered task harmless."""
    _execute(self, run_id)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, name="agents.shadow_step")
def shadow_step(self, run_id: int) -> None:
    """Messages queued before shadow runs went through run_step still name this task."""
    _execute(self, run_id)


@app.task(name="agents.sweep_stale_runs", ignore_result=True)
def sweep_stale_runs() -> dict[str, list[int]]:
    """On beat: re-queue runs whose worker died, and re-send queued runs whose message was lost with
    one (agents/pipeline/recovery.py)."""
    return {**runs_sweep_stale(), "resent": runs_resend_lost()}


@app.task(name="agents.sweep_expired_sources", ignore_result=True)
def sweep_expired_sources() -> list[int]:
    """On beat: flag the pieces of knowledge documents whose expiry date passed (editorial/sourceflags.py)."""
    return documents_expired_sweep()
