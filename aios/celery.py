"""The Celery app. Tasks bind to it explicitly (`@app.task`), so importing any tasks module loads it."""
from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown

from aios.tracing import tracing_flush, tracing_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aios.settings")

app = Celery("aios")
app.config_from_object("django.conf:settings", namespace="CELERY")
# `<app>.tasks` of each app, and the tasks modules of packages inside apps (governance.publishing).
app.autodiscover_tasks(["agents", "governance", "governance.publishing", "editorial", "editorial.insights",
                        "editorial.campaigns", "editorial.batches"])


# Optional OpenTelemetry (aios/tracing.py: nothing happens without OTEL_* variables). In each pool
# process after the fork, because a batch exporter's thread does not survive one.
@worker_process_init.connect(weak=False)
def trace_worker_process(**_: object) -> None:
    tracing_setup(role="worker")


@worker_process_shutdown.connect(weak=False)
def flush_worker_traces(**_: object) -> None:
    tracing_flush()
