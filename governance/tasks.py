from __future__ import annotations

from aios.celery import app
from governance import services


@app.task(acks_late=True, name="governance.deliver")
def deliver(delivery_id: int) -> None:
    """One attempt; schedules the next one on the Standard Webhooks retry schedule."""
    delay = services.delivery_attempt(delivery_id=delivery_id)
    if delay is not None:
        deliver.apply_async((delivery_id,), countdown=delay.total_seconds())


@app.task(name="governance.publish_due")
def publish_due() -> None:
    """Celery beat: publish scheduled drafts whose time has come."""
    services.publish_due()


@app.task(name="governance.idempotency_purge")
def idempotency_purge() -> None:
    """Celery beat: forget Idempotency-Key answers older than 24 h."""
    from governance.tokens import idempotency_purge as purge

    purge()
