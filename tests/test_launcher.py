"""The launcher keeps the embedded stack running: children that die come back, with a log line and a
growing delay; stopping leaves nothing behind; the model server is started so that it never
interrupts one stream for another."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from aios import devstack
from tests.llm_server import LLMServer

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
# A child that starts a grandchild in its process group, as a Celery worker starts its pool.
WITH_POOL = [
    sys.executable, "-c",
    "import subprocess, sys, time\n"
    "pool = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print(pool.pid, flush=True)\n"
    "time.sleep(120)\n",
]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    pytest.fail("condition not reached in time")


def kill_and_reap(child: devstack.Supervised) -> None:
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait(5)


def supervised(argv: list[str], lines: list[str], **kwargs) -> devstack.Supervised:
    return devstack.Supervised("fake worker", lambda: devstack.spawn(argv, env=os.environ), say=lines.append, **kwargs)


# --- the model server's command line ----------------------------------------------------------------

def test_the_model_server_is_started_with_interruption_off_and_real_option_names():
    """Parsed by llama-cpp-python's own command line, so a misspelt option fails here."""
    import argparse

    from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
    from llama_cpp.server.settings import Settings

    args = devstack.llama_args(port=8091, model_path="/models/gemma.gguf")
    parser = argparse.ArgumentParser()
    add_args_from_model(parser, Settings)
    settings = parse_model_from_args(Settings, parser.parse_args(args[args.index("llama_cpp.server") + 1:]))
    assert settings.interrupt_requests is False
    assert settings.n_ctx >= 4096  # the server's own default, 2048, is tight for prompts with sources
    assert settings.n_threads == settings.n_threads_batch == devstack.model_threads()


def test_the_model_server_leaves_one_core_to_the_rest_of_the_stack():
    assert [devstack.model_threads(cores) for cores in (1, 2, 4, 8)] == [1, 1, 3, 7]


def test_beat_is_its_own_process_and_not_inside_the_worker(tmp_path):
    worker = devstack.worker_args()
    assert "worker" in worker and "--beat" not in worker and "-B" not in worker
    assert worker[worker.index("--concurrency") + 1] == "2"
    beat = devstack.beat_args(schedule=tmp_path / "schedule")
    assert beat[beat.index("aios.celery") + 1] == "beat"
    assert beat[beat.index("--schedule") + 1] == str(tmp_path / "schedule")


# --- the supervisor -------------------------------------------------------------------------------------

def test_the_restart_delay_doubles_up_to_thirty_seconds():
    assert [devstack.restart_delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]


@pytest.mark.slow
def test_a_killed_child_is_restarted_with_a_log_line_and_a_growing_delay():
    lines: list[str] = []
    clock = Clock()
    child = supervised(SLEEPER, lines, clock=clock)
    first = child.start()
    try:
        child.check()
        assert lines == [] and first.poll() is None

        kill_and_reap(child)
        child.check()
        assert lines == ["fake worker exited with -9; restarting in 1s (restart 1)"]
        clock.now = 0.9
        child.check()
        assert child.proc is first  # not before its delay
        clock.now = 1.0
        child.check()
        second = child.proc
        assert second is not first and second.poll() is None

        kill_and_reap(child)
        child.check()
        assert lines[-1] == "fake worker exited with -9; restarting in 2s (restart 2)"
        clock.now = 3.0
        child.check()
        assert child.proc is not second and child.proc.poll() is None

        kill_and_reap(child)
        child.check()
        assert lines[-1] == "fake worker exited with -9; restarting in 4s (restart 3)"
    finally:
        child.stop()


@pytest.mark.slow
def test_the_delay_starts_over_once_the_child_stayed_up():
    lines: list[str] = []
    clock = Clock()
    child = supervised(SLEEPER, lines, clock=clock, steady_after=60)
    child.start()
    try:
        for restart_at in (1.0, 3.0):
            kill_and_reap(child)
            child.check()
            clock.now = restart_at
            child.check()
        clock.now += 60  # up for a minute: the next death is a first one again
        kill_and_reap(child)
        child.check()
        assert lines[-1] == "fake worker exited with -9; restarting in 1s (restart 3)"
    finally:
        child.stop()


@pytest.mark.slow
def test_a_child_that_exits_by_itself_is_restarted_too():
    lines: list[str] = []
    child = supervised([sys.executable, "-c", "raise SystemExit(3)"], lines, first_delay=0.05)
    child.start()
    try:
        wait_for(lambda: child.proc.poll() is not None)
        child.check()
        assert lines == ["fake worker exited with 3; restarting in 0.05s (restart 1)"]
    finally:
        child.stop()


@pytest.mark.slow
def test_a_restart_leaves_no_orphan_of_the_killed_child():
    lines: list[str] = []
    clock = Clock()
    out = tempfile.TemporaryFile()
    child = devstack.Supervised(
        "fake worker", lambda: devstack.spawn(WITH_POOL, env=os.environ, log=out), say=lines.append, clock=clock
    )
    child.start()
    try:
        wait_for(lambda: out.seek(0) == 0 and out.read().strip().isdigit())
        out.seek(0)
        pool_pid = int(out.read())
        assert devstack.process_alive(pool_pid)
        kill_and_reap(child)  # the main process only, as `kill -9 <worker pid>` does
        assert devstack.process_alive(pool_pid)
        child.check()
        wait_for(lambda: not devstack.process_alive(pool_pid), timeout=5)
    finally:
        child.stop()
        out.close()


@pytest.mark.slow
def test_stop_leaves_no_process_even_during_a_restart_delay():
    lines: list[str] = []
    clock = Clock()
    child = supervised(SLEEPER, lines, clock=clock)
    child.start()
    kill_and_reap(child)
    child.check()  # now waiting 1 s to restart
    child.stop()
    clock.now = 10.0
    child.check()
    assert child.proc.poll() is not None and len(lines) == 1

    child = supervised(WITH_POOL, lines)
    proc = child.start()
    time.sleep(0.3)
    child.stop()
    assert proc.poll() is not None
    # Its pool process went too (a SIGKILL takes effect when the process next runs: wait for that).
    wait_for(lambda: running_in_group(proc.pid) == [], timeout=5)


def running_in_group(pgid: int) -> list[int]:
    """Live members of a process group (a zombie waiting for init to reap it does not count)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            pids.append(int(entry.name))
    return pids


def test_a_data_service_counts_as_gone_only_after_several_failed_probes():
    answers = iter([False, True, False, False, False])
    service = devstack.DataService("embedded Valkey", Path("/tmp"), lambda: next(answers))
    assert [service.alive() for _ in range(5)] == [True, True, True, True, False]


def test_a_dead_process_is_not_alive():
    proc = subprocess.Popen(SLEEPER)
    assert devstack.process_alive(proc.pid)
    proc.kill()
    proc.wait()
    assert not devstack.process_alive(proc.pid)


# --- the launcher, end to end ---------------------------------------------------------------------------

def launcher_processes(mark: str) -> list[int]:
    """Every process started under the launcher (they all inherit its environment)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"AIOS_TEST_MARK={mark}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def worker_main_pid(mark: str, launcher: int) -> int | None:
    for pid in launcher_processes(mark):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[1]) == launcher and b"worker" in cmdline:
            return pid
    return None


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not Path("/proc").exists(), reason="finds the launcher's processes through /proc")
def test_the_launcher_restarts_a_killed_worker_and_stops_everything_on_ctrl_c(services, tmp_path):
    llm = LLMServer(tokens_per_second=200, tokens_per_reply=8).start()
    mark = uuid.uuid4().hex
    port = devstack.free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "AIOS_TEST_MARK": mark,
        "AIOS_VAR": str(tmp_path / "var"),
        "AIOS_PORT": str(port),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgresql://postgres@/test_aios?host={services.pg_dir}",
        "REDIS_URL": services.redis_url,
        "AIOS_LLM_BASE_URL": llm.base_url,
        "AIOS_LLM_MODEL": "test-model",
        "AIOS_EMBEDDINGS": llm.base_url,
    }
    output = tmp_path / "launcher.out"
    with open(output, "wb") as out:
        # `run` itself: `python -m aios.launcher run` would first look for the checkout's own .venv.
        launcher = subprocess.Popen([sys.executable, "-c", "import sys; from aios.launcher import run; sys.exit(run([]))"],
                                    env=env, cwd=devstack.BASE_DIR, stdout=out, stderr=subprocess.STDOUT)
    text = lambda: output.read_text(errors="replace")  # noqa: E731
    try:
        wait_for(lambda: "[aios] ready in" in text() or launcher.poll() is not None, timeout=180)
        assert launcher.poll() is None, text()
        first = worker_main_pid(mark, launcher.pid)
        assert first is not None

        os.kill(first, signal.SIGKILL)
        wait_for(lambda: "[aios] celery worker exited with -9; restarting in 1s (restart 1)" in text(), timeout=10)
        wait_for(lambda: worker_main_pid(mark, launcher.pid) not in (None, first), timeout=10)
        devstack.wait_celery_worker(env, timeout=60)
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            code = launcher.wait(60)
        finally:
            if launcher.poll() is None:
                launcher.kill()
            deadline = time.monotonic() + 5
            while (left := launcher_processes(mark)) and time.monotonic() < deadline:
                time.sleep(0.1)  # a SIGKILL takes effect when the process next runs
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            llm.stop()
    assert code == 0, text()
    assert "[aios] stopped; nothing left running" in text()
    assert left == [], text()
