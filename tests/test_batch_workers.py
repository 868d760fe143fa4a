"""Workers on more machines: `python3 -m aios.launcher worker` starts only a Celery worker against
DATABASE_URL and REDIS_URL; two such processes (own hostnames) share a batch, and a SIGKILL of one
loses nothing."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aios import devstack
from tests.llm_server import LLMServer

BASE_DIR = Path(__file__).resolve().parent.parent
WORKER = "import sys; from aios.launcher import worker; sys.exit(worker(sys.argv[1:]))"


def launcher_worker(*args: str, env: dict[str, str], log=None) -> subprocess.Popen:
    # The function itself: `python -m aios.launcher worker` would first look for the checkout's .venv.
    return devstack.spawn([sys.executable, "-c", WORKER, *args], env=env, log=log)


def test_the_worker_command_refuses_to_start_without_database_and_broker_urls(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["AIOS_VAR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", WORKER], env=env, cwd=BASE_DIR, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "DATABASE_URL and REDIS_URL must be set" in done.stdout


def test_the_worker_command_refuses_an_unknown_queue(tmp_path):
    env = {**os.environ, "AIOS_VAR": str(tmp_path), "DATABASE_URL": "postgresql://x@/y", "REDIS_URL": "redis://x"}
    done = subprocess.run([sys.executable, "-c", WORKER, "--queues", "default,urgent"], env=env, cwd=BASE_DIR,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown queue(s) urgent" in done.stderr


def test_workers_consume_the_interactive_queue_first():
    args = devstack.worker_args()
    assert args[args.index("--queues") + 1] == "default,bulk"
    from django.conf import settings

    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"] == "priority"
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"


def wait_for(check, *, timeout: float, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not true after {timeout}s")


@pytest.mark.skipif(not Path("/proc").exists(), reason="kills process groups")
def test_two_worker_processes_share_a_batch_and_killing_one_loses_nothing(services, transactional_db, tmp_path):
    from editorial.batches import services as batches
    from editorial.batches.models import Batch
    from editorial.models import Draft
    from tests.factories import build_world

    world = build_world(sections=2)
    rows = "".join(f"P-{i},Product {i}\n" for i in range(30))
    llm = LLMServer(tokens_per_second=80, tokens_per_reply=16).start()  # 0.2 s a section: kills land mid-write
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "AIOS_VAR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgresql://postgres@/test_aios?host={services.pg_dir}", "REDIS_URL": services.redis_url,
        "AIOS_LLM_BASE_URL": llm.base_url, "AIOS_LLM_MODEL": "test-model", "AIOS_LLM_MODE": "completion",
        "AIOS_STREAM_FLUSH_SECONDS": "0.05", "PYTHONPATH": str(BASE_DIR),
        # Recovery at test speed: the sweeper every second, a run without heartbeat for 3 s is stale,
        # a queued run waiting 6 s lost its message with the killed worker.
        "AIOS_SWEEP_SECONDS": "1", "AIOS_RUN_STALE_SECONDS": "3", "AIOS_RUN_LOST_MESSAGE_SECONDS": "6",
        "AIOS_BULK_MAX_IN_FLIGHT": "6", "AIOS_BULK_FEED_SECONDS": "0.3",
    }
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("a", "b", "beat")}
    procs = {
        "a": launcher_worker("--hostname", "a@machine-a", "--concurrency", "2", env=env, log=logs["a"]),
        "b": launcher_worker("--hostname", "b@machine-b", "--concurrency", "2", env=env, log=logs["b"]),
        "beat": devstack.spawn(devstack.beat_args(schedule=tmp_path / "beat-schedule"), env=env, log=logs["beat"]),
    }
    try:
        devstack.wait_celery_worker(env, proc=procs["a"], timeout=90)
        batch = batches.batch_upload(
            user=world.requester, stream=io.BytesIO(("sku,name\n" + rows).encode()), fmt="csv", brand=world.brand,
            template=world.template, name="thirty", channel="product", risk="low", language="en",
            mapping={"title": "name"}, defaults={"goal": "Describe {name}", "audience": "shoppers", "tone": "warm"},
        )
        batches.batch_start(user=world.requester, batch=batch)
        wait_for(lambda: Draft.objects.filter(status=Draft.Status.IN_REVIEW).count() >= 6, timeout=120)
        os.killpg(procs["a"].pid, signal.SIGKILL)  # machine A is gone: its worker and its pool
        procs["a"].wait(10)
        in_review_at_kill = Draft.objects.filter(status=Draft.Status.IN_REVIEW).count()
        assert in_review_at_kill < 30, "the kill came too late to matter"
        wait_for(lambda: Batch.objects.get(pk=batch.pk).status == Batch.Status.FINISHED, timeout=180, every=1)
        drafts = Draft.objects.filter(batch_row__batch=batch)
        assert drafts.count() == 30 == Draft.objects.count()  # every row filed once
        assert set(drafts.values_list("status", flat=True)) == {Draft.Status.IN_REVIEW}  # none failed or stuck
        assert all(d.revisions.count() == 1 for d in drafts)  # each written once, nothing twice
        for name in ("a", "b"):
            logs[name].flush()
            assert "agents.run_step" in (tmp_path / f"{name}.log").read_text(errors="replace"), f"worker {name} idle"
    finally:
        devstack.stop_all(list(procs.values()))
        llm.stop()
        for log in logs.values():
            log.close()
