"""A Celery worker keeps its database connection between tasks (aios/celery.py) and drops it the
way Django drops a request's: after an error or when it is too old."""
from __future__ import annotations

import pytest
from celery.signals import task_postrun, task_prerun, worker_process_init
from django.db import connection

from aios.celery import app


@pytest.fixture
def worker_settings(settings):
    kept = {k: connection.settings_dict.get(k) for k in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS")}
    worker_process_init.send(sender=None)  # what a Celery pool process gets when it starts
    yield settings
    connection.settings_dict.update(kept)
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_keeps_a_healthy_connection_from_one_task_to_the_next(worker_settings):
    # The settings the connection reads when it connects (the same dict as settings.DATABASES["default"]).
    assert connection.settings_dict["CONN_MAX_AGE"] == worker_settings.AIOS_WORKER_DB_CONN_MAX_AGE > 0
    assert app.conf.get("CELERY_DB_REUSE_MAX")  # Celery's fixup no longer closes it after every task
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        before = cursor.fetchone()[0]
    task_postrun.send(sender=None)
    task_prerun.send(sender=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == before


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_failed_is_replaced_before_the_next_task(worker_settings):
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        before = cursor.fetchone()[0]
    with pytest.raises(Exception):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    task_postrun.send(sender=None)
    task_prerun.send(sender=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != before
