"""The two set-up commands of the README.

    python3 -m aios.launcher run    # install into .venv, start everything, print URL and logins
    python3 -m aios.launcher test   # install test needs (and Debian chromium), run the whole suite
    python3 -m aios.launcher worker [--queues default,bulk] [--concurrency N] [--hostname H]
                                    # only a Celery worker, joining a stack at DATABASE_URL and REDIS_URL

The top half uses only the standard library, because it runs before anything is installed:
it creates `.venv`, installs the dependencies listed in pyproject.toml (skipped when nothing
changed), then re-executes itself with the venv's Python.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import IO

from aios import devstack  # its top level needs only the standard library, so this runs before .venv exists

BASE_DIR = Path(__file__).resolve().parent.parent
VENV = BASE_DIR / ".venv"
# Data, logs and the secret key; AIOS_VAR moves them (the launcher's own tests do).
VAR = Path(os.environ.get("AIOS_VAR") or BASE_DIR / "var")
STAMP = VENV / ".aios-installed.json"
EXTRAS = {"run": ["llm"], "test": ["llm", "test", "otel"], "worker": []}  # otel: tests/test_tracing.py traces the stack
DEMO_LOGINS = [
    ("rita", "requester (files briefs)"),
    ("eddie", "editor (reviews, edits, approves, publishes)"),
    ("bree", "brand reviewer"),
    ("lena", "legal reviewer"),
    ("otto", "member of another brand (sees nothing here)"),
    ("admin", "administrator (/admin/)"),
]
DEMO_PASSWORD = "aios-demo"


def say(message: str) -> None:
    print(f"[aios] {message}", flush=True)


# --- bootstrap (standard library only) ---------------------------------------------------------

def _venv_python() -> Path:
    return VENV / "bin" / "python"


def _requirements(extras: list[str]) -> list[str]:
    project = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return reqs


def ensure_venv(command: str) -> None:
    extras = EXTRAS[command]
    reqs = _requirements(extras)
    digest = hashlib.sha256(json.dumps(sorted(reqs)).encode()).hexdigest()
    installed: dict = {}
    if STAMP.exists():
        try:
            installed = json.loads(STAMP.read_text())
        except ValueError:
            installed = {}
    if not _venv_python().exists():
        say("creating .venv …")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if installed.get("digest") == digest:
        return
    say("installing dependencies into .venv (the first time compiles llama.cpp: about 5–8 minutes) …")
    started = time.monotonic()
    proc = subprocess.run(
        [str(_venv_python()), "-m", "pip", "install", "--progress-bar", "off", "-q", *reqs],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # The machine's local indexes make pip print a warning per package that is not there.
    noise = ("WARNING: Location 'file:", "is ignored: it is neither a file nor a directory")
    for line in proc.stdout.splitlines():
        if not any(n in line for n in noise):
            print(line, flush=True)
    if proc.returncode != 0:
        say("dependency installation failed (see above)")
        sys.exit(proc.returncode)
    STAMP.write_text(json.dumps({"digest": digest, "extras": extras}))
    say(f"dependencies installed in {time.monotonic() - started:.0f}s")


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


# --- inside the venv -------------------------------------------------------------------------

def _secret_key() -> str:
    if os.environ.get("AIOS_SECRET_KEY"):
        return os.environ["AIOS_SECRET_KEY"]
    path = VAR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], env=env, check=True, cwd=BASE_DIR)


def run(argv: list[str]) -> int:
    """Start the embedded stack and keep it running until Ctrl-C / SIGTERM.

    The app's processes (model server, Celery worker, Celery beat, web server) are supervised: one
    that dies is restarted with a growing delay. The embedded PostgreSQL and Valkey hold the data
    and are not restarted behind the user's back: if one dies, everything stops with a message.
    """
    port = int(os.environ.get("AIOS_PORT", "8000"))
    VAR.mkdir(parents=True, exist_ok=True)
    logdir = VAR / "log"
    logdir.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "aios.settings")
    env.setdefault("AIOS_DEBUG", "1")
    env["AIOS_SECRET_KEY"] = _secret_key()
    env.setdefault("AIOS_PUBLIC_URL", f"http://127.0.0.1:{port}")
    # The launcher's web server speaks plain http: no https redirect or secure-only cookies for an
    # http:// public URL, even with AIOS_DEBUG=0 (aios/settings.py, HTTPS).
    env.setdefault("AIOS_HTTPS", "0" if env["AIOS_PUBLIC_URL"].startswith("http://") else "1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")

    children: list[devstack.Supervised] = []
    logs: list[IO[bytes]] = []
    pg = valkey = None
    stop_requested = False
    # While starting up, Ctrl-C interrupts whatever the launcher waits for. Once everything runs it
    # only sets a flag that the supervision loop reads, so it never lands between starting a child
    # and recording it (which would leave that child running).
    interruptible = True

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True
        if interruptible:
            raise KeyboardInterrupt

    def supervise(name: str, args: list[str], log: str | None = None) -> devstack.Supervised:
        out = None
        if log is not None:
            out = open(logdir / log, "ab")  # noqa: SIM115 - closed when the launcher stops
            logs.append(out)
        child = devstack.Supervised(name, lambda: devstack.spawn(args, env=env, log=out), say=say)
        children.append(child)
        child.start()
        return child

    def shutdown() -> None:
        nonlocal interruptible
        interruptible = False
        say("stopping …")
        devstack.stop_supervised(children)
        for out in logs:
            out.close()
        if valkey is not None:
            valkey.stop()
        if pg is not None:
            try:
                devstack.stop_postgres(pg)
            except Exception as exc:  # noqa: BLE001 - a server that died cannot be stopped; say so and go on
                say(f"embedded PostgreSQL did not stop cleanly: {exc}")
        say("stopped; nothing left running")

    # Installed explicitly: a launcher started from a script inherits SIGINT as ignored.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        started = time.monotonic()
        data_services: list[devstack.DataService] = []
        if not env.get("DATABASE_URL"):
            pg, env["DATABASE_URL"] = devstack.start_postgres(VAR / "pgdata")
            data_services.append(devstack.postgres_service(pg, VAR / "pgdata"))
            say(f"embedded PostgreSQL ready ({VAR / 'pgdata'})")
        else:
            say("using DATABASE_URL")
        if not env.get("REDIS_URL"):
            vport = int(os.environ.get("AIOS_VALKEY_PORT", "16379"))
            valkey = devstack.start_valkey(port=vport, datadir=VAR / "valkey", persist=True)
            data_services.append(devstack.valkey_service(valkey, VAR / "valkey"))
            env["REDIS_URL"] = f"redis://127.0.0.1:{vport}/0"
            say(f"embedded Valkey ready on port {vport}")
        else:
            say("using REDIS_URL")
        model = None
        if not env.get("AIOS_LLM_BASE_URL"):
            lport = int(os.environ.get("AIOS_LLM_PORT", "8081"))
            model = supervise(
                "model server", devstack.llama_args(port=lport, model_path=devstack.gemma_model_path()), "llama.log"
            )
            env["AIOS_LLM_BASE_URL"] = f"http://127.0.0.1:{lport}/v1"
            env.setdefault("AIOS_LLM_MODEL", "gemma-3-270m")
            env.setdefault("AIOS_LLM_MODE", "completion")
        else:
            say(f"using the model server at {env['AIOS_LLM_BASE_URL']}")
        _manage(env, "migrate", "--no-input", "-v", "0")
        _manage(env, "seed_demo", "--password", DEMO_PASSWORD)
        worker = supervise("celery worker", devstack.worker_args(), "worker.log")
        supervise("celery beat", devstack.beat_args(schedule=VAR / "celerybeat-schedule"), "beat.log")
        web = supervise("web server", devstack.asgi_args(port=port))
        if model is not None:
            devstack.wait_http(env["AIOS_LLM_BASE_URL"] + "/models", timeout=120, proc=model.proc)
            say("local model server ready (Gemma 3 270M via llama.cpp)")
        devstack.wait_celery_worker(env, proc=worker.proc)
        devstack.wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=web.proc, ok=(200, 503))
        say(f"ready in {time.monotonic() - started:.1f}s")
        print(
            f"\n  AIOS Editorial is running at  http://127.0.0.1:{port}/\n"
            f"  Demo CMS receiver:            http://127.0.0.1:{port}/demo/receiver/\n"
            f"  Admin:                        http://127.0.0.1:{port}/admin/\n"
            f"  Health:                       http://127.0.0.1:{port}/healthz\n"
            f"  Logs:                         {logdir}\n\n"
            f"  Demo logins (password “{DEMO_PASSWORD}” for all):\n"
            + "".join(f"    {name:<7} {role}\n" for name, role in DEMO_LOGINS)
            + "\n  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        interruptible = False
        while not stop_requested:
            for service in data_services:
                if not service.alive():
                    say(f"{service.name} is gone; stopping everything. It holds the data, so it is not "
                        f"restarted behind your back: see {service.datadir} and run the launcher again.")
                    return 1
            for child in children:
                child.check()
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        say(f"could not start: {exc}; see {logdir}")
        return 1
    finally:
        shutdown()


def worker(argv: list[str]) -> int:
    """Only a Celery worker, for another machine of a stack (or more processes on this one).

    It starts no embedded service: a worker joins a database and a broker that already hold the
    stack's work, so DATABASE_URL and REDIS_URL must both be set (a worker on its own embedded
    database would take no work and say nothing). Migrations are the web side's job (`run`). The
    worker replaces this process (exec), so a supervisor's signals reach Celery directly."""

    parser = argparse.ArgumentParser(prog="python3 -m aios.launcher worker")
    parser.add_argument("--queues", default=",".join(devstack.WORKER_QUEUES),
                        help="comma-separated, in the order tried: default (interactive) and/or bulk")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2, help="pool processes (default: cores)")
    parser.add_argument("--hostname", default=None, help="the worker's node name (default: aios-<pid>@<host>)")
    args = parser.parse_args(argv)
    queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
    unknown = [q for q in queues if q not in devstack.WORKER_QUEUES]
    if not queues or unknown:
        parser.error(f"unknown queue(s) {', '.join(unknown) or '(none given)'}; "
                     f"choose from {', '.join(devstack.WORKER_QUEUES)}")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        say(f"{' and '.join(missing)} must be set: a worker joins an existing stack's database and broker "
            "(`python3 -m aios.launcher run` starts an embedded one).")
        return 2
    VAR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "aios.settings")
    env["AIOS_SECRET_KEY"] = _secret_key()
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    cmd = devstack.worker_args(concurrency=args.concurrency, queues=queues, hostname=args.hostname)
    say(f"celery worker on {', '.join(queues)} × {args.concurrency} ({args.hostname or 'default hostname'})")
    sys.stdout.flush()
    os.chdir(BASE_DIR)
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


def ensure_chromium() -> None:
    if Path("/usr/bin/chromium").exists():
        return
    if os.environ.get("AIOS_INSTALL_CHROMIUM", "1") == "0" or os.geteuid() != 0 or not shutil.which("apt-get"):
        say("Debian chromium is missing and cannot be installed here; browser tests will fail")
        return
    say("installing Debian chromium for the browser tests …")
    quiet = {"stdout": subprocess.DEVNULL}
    subprocess.run(["apt-get", "update", "-qq"], check=True, **quiet)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-dejavu-core"],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        **quiet,
    )


def test(argv: list[str]) -> int:
    ensure_chromium()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "pytest", *argv], cwd=BASE_DIR, env=env).returncode


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in EXTRAS:
        print(__doc__)
        sys.exit(2)
    command, rest = sys.argv[1], sys.argv[2:]
    if not in_venv():
        ensure_venv(command)
        os.execv(str(_venv_python()), [str(_venv_python()), "-m", "aios.launcher", command, *rest])
    sys.exit({"run": run, "test": test, "worker": worker}[command](rest))


if __name__ == "__main__":
    main()
