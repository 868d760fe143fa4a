"""Publishing's Celery tasks. They keep the names they had in `governance.tasks` (queued messages
and the beat schedule use them); `aios/celery.py` autodiscovers this module."""
from __future__ import annotations

from aios.celery import app
from governance.publishing import delivery, policy, publish


@app.task(acks_late=True, name=delivery.DELIVER_TASK)  # "governance.deliver"
def deliver(delivery_id: int) -> None:
    """One attempt; schedules the next one on the Standard Webhooks retry schedule."""
    delay = delivery.delivery_attempt(delivery_id=delivery_id)
    if delay is not None:
        deliver.apply_async((delivery_id,), countdown=delay.total_seconds())


@app.task(name="governance.publish_due")
def publish_due() -> None:
    """Celery beat: publish scheduled drafts whose time has come."""
    publish.publish_due()


@app.task(acks_late=True, name=policy.POLICY_PUBLISH_TASK, autoretry_for=policy.TRANSIENT, retry_backoff=5,
          max_retries=5)
def publish_by_policy(draft_id: int) -> None:
    """After an approval by policy commits: publish the draft, or schedule it for its batch's time.
    Safe to run twice (a published or scheduled draft is skipped)."""
    policy.draft_publish_by_policy(draft_id=draft_id)
