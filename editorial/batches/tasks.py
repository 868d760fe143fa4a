"""The batch feeder's tasks: thin, they call editorial/batches/services.py."""
from __future__ import annotations

from aios.celery import app
from editorial.batches.services import batch_feed, batch_start_due


@app.task(name="batches.feed", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def feed(batch_id: int, token: str) -> None:
    """One tick of a batch's feeder (it enqueues the next tick itself)."""
    batch_feed(batch_id=batch_id, token=token)


@app.task(name="batches.feed_due", ignore_result=True)
def feed_due() -> list[int]:
    """On beat: scheduled batches that are due, and running batches whose feeder chain was lost."""
    return batch_start_due()
