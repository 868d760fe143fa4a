from __future__ import annotations

from agents import services
from aios.celery import app


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, name="agents.run_step")
def run_step(self, run_id: int) -> None:
    """Thin: the service claims the run (so a redelivered task does nothing) and does the step."""
    try:
        services.run_execute(run_id=run_id)
    except services.TransientRunError as exc:
        raise self.retry(countdown=exc.countdown, exc=exc) from exc


@app.task(bind=True, acks_late=True, max_retries=None, name="agents.shadow_step")
def shadow_step(self, run_id: int) -> None:
    """A shadow write (agents/shadow.py): claimed like a step, and never touches the draft."""
    from agents import shadow

    try:
        shadow.shadow_execute(run_id=run_id)
    except shadow.ShadowRetry as exc:
        raise self.retry(countdown=exc.countdown, exc=exc) from exc


@app.task(name="agents.sweep_stale_runs", ignore_result=True)
def sweep_stale_runs() -> dict[str, list[int]]:
    """On beat: re-queue runs whose worker died (see agents/recovery.py)."""
    from agents.recovery import runs_sweep_stale

    return runs_sweep_stale()
