from __future__ import annotations

from aios.celery import app
from governance.tokens import idempotency_purge as purge


@app.task(name="governance.idempotency_purge")
def idempotency_purge() -> None:
    """Celery beat: forget Idempotency-Key answers older than 24 h."""
    purge()
