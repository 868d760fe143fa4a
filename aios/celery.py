"""The Celery app. Tasks bind to it explicitly (`@app.task`), so importing any tasks module loads it."""
from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_process_shutdown
from django.conf import settings
from django.db import close_old_connections

from aios.tracing import tracing_flush, tracing_setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aios.settings")

app = Celery("aios")
app.config_from_object("django.conf:settings", namespace="CELERY")
# `<app>.tasks` of each app, and the tasks modules of packages inside apps (governance.publishing).
app.autodiscover_tasks(["agents", "governance", "governance.publishing", "editorial", "editorial.insights",
                        "editorial.campaigns", "editorial.batches"])


# Database connections. Celery's Django fixup closes them before and after every task unless
# CELERY_DB_REUSE_MAX is set, and a new connection is a new PostgreSQL backend process: several per
# draft, which cost more CPU than the queries they ran. A worker keeps its connection instead and
# closes it the way Django closes a request's (close_old_connections): after an error, a failed
# health check, a transaction left open, or AIOS_WORKER_DB_CONN_MAX_AGE seconds. The fixup still
# recycles it every CELERY_DB_REUSE_MAX tasks.
app.conf.CELERY_DB_REUSE_MAX = 1000


@worker_process_init.connect(weak=False)
def keep_db_connections(**_: object) -> None:
    # Read by Django when it connects (the web server keeps its own setting, AIOS_DB_CONN_MAX_AGE).
    settings.DATABASES["default"]["CONN_MAX_AGE"] = settings.AIOS_WORKER_DB_CONN_MAX_AGE
    settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] = True


@task_prerun.connect(weak=False)
@task_postrun.connect(weak=False)
def close_unusable_db_connections(**_: object) -> None:
    close_old_connections()


# Optional OpenTelemetry (aios/tracing.py: nothing happens without OTEL_* variables). In each pool
# process after the fork, because a batch exporter's thread does not survive one.
@worker_process_init.connect(weak=False)
def trace_worker_process(**_: object) -> None:
    tracing_setup(role="worker")


@worker_process_shutdown.connect(weak=False)
def flush_worker_traces(**_: object) -> None:
    tracing_flush()
