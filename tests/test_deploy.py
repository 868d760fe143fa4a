"""deploy/compose.yaml and deploy/Dockerfile: the services a team starts from, wired with variables the app
really reads, each started by a command whose options its own program accepts. Nothing here runs Docker
(CI has none; the stack was started for real once, see README): the commands are parsed by the real
parsers (the launcher's argparse, Django's, celery's and uvicorn's click), so a renamed option or command
fails here first, and what starting it for real broke is checked here too."""
from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
import yaml
from celery.bin.celery import celery as celery_cli
from django.core.management import get_commands, load_command_class
from django.urls import resolve
from uvicorn.main import main as uvicorn_cli

from aios import launcher
from aios.celery import app as celery_app

BASE_DIR = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (BASE_DIR / "deploy" / "compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
DOCKERFILE = (BASE_DIR / "deploy" / "Dockerfile").read_text()
EXAMPLE = dict(re.findall(r"^([A-Z_]+)=(.*)$", (BASE_DIR / "deploy" / "env.example").read_text(), re.MULTILINE))
READERS = "".join((BASE_DIR / p).read_text() for p in ("aios/settings.py", "aios/launcher.py", "aios/tracing.py"))
# Read by compose itself (image, ports, process counts), not by the app.
COMPOSE_ONLY = {"AIOS_IMAGE", "AIOS_GGUF_FILE", "AIOS_WEB_PROCESSES", "AIOS_WORKER_CONCURRENCY", "AIOS_DB_BIND",
                "AIOS_VALKEY_BIND", "AIOS_WEB_BIND"}
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: `${X}`, `${X:-default}`, `${X:?message}` (required) and `$$`."""
    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.groups()
        if op and op.endswith("?"):
            assert env.get(name), f"{name} is required: {arg}"
        return env.get(name) or (arg if op and op.endswith("-") else "")
    return _VARIABLE.sub(one, value)


def command(service: str, env: dict[str, str] | None = None) -> list[str]:
    """A service's command as the container gets it, with the example's values (empty secrets filled)."""
    env = {k: v or "x" for k, v in EXAMPLE.items()} if env is None else env
    return [interpolate(part, env) for part in COMPOSE["services"][service]["command"]]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, as Docker reads them."""
    text = re.sub(r"\\\n", "", DOCKERFILE)
    return [(m.group(1).upper(), m.group(2)) for m in re.finditer(r"^([A-Za-z]+)\s+(.*)$", text, re.MULTILINE)
            if not m.group(0).lstrip().startswith("#")]


def celery_parse(argv: list[str]) -> tuple[dict, dict]:
    """celery's own click parsing of `celery <group options> <subcommand> <options>`, without running it."""
    name_at = next(i for i, arg in enumerate(argv) if arg in celery_cli.commands)
    ctx = celery_cli.make_context("celery", argv[:name_at + 1])
    ctx.obj = SimpleNamespace(app=celery_app)  # what celery's group callback would set (option defaults read it)
    sub = celery_cli.commands[argv[name_at]].make_context(argv[name_at], argv[name_at + 1:], parent=ctx)
    return ctx.params, sub.params


def uvicorn_parse(argv: list[str]) -> dict:
    assert argv[0] == "uvicorn", argv
    params = uvicorn_cli.make_context("uvicorn", argv[1:]).params
    module, _, attribute = params["app"].partition(":")
    assert hasattr(importlib.import_module(module), attribute), params["app"]
    return params


def test_it_has_the_database_broker_model_server_web_beat_and_workers():
    services = COMPOSE["services"]
    assert {"db", "valkey", "model", "migrate", "web", "beat", "worker"} <= set(services)
    assert services["db"]["image"].startswith("pgvector/pgvector:")
    assert [name for name, s in services.items() if "beat" in s.get("command", [])] == ["beat"]


def test_workers_start_through_the_launcher_on_the_default_and_bulk_queues():
    command = COMPOSE["services"]["worker"]["command"]
    assert command[:5] == ["python3", "-m", "aios.launcher", "worker", "--queues"]
    assert set(command[5].split(",")) == {"default", "bulk"}


def test_every_variable_given_to_the_app_is_one_it_reads():
    env = COMPOSE["x-aios-env"]
    assert {"DATABASE_URL", "REDIS_URL", "AIOS_SECRET_KEY", "AIOS_LLM_BASE_URL"} <= set(env)
    for name in [*env, *EXAMPLE]:
        if name.startswith(("AIOS_", "OTEL_", "DATABASE_", "REDIS_")) and name not in COMPOSE_ONLY:
            assert f'"{name}"' in READERS, f"{name} is set in deploy/ but nothing reads it"
    for name in COMPOSE_ONLY:  # a stale exemption would hide a variable nothing reads any more
        assert "${" + name in COMPOSE_TEXT, f"{name} is listed as compose's own but compose.yaml does not use it"


def test_every_variable_the_compose_file_needs_is_in_the_env_example():
    for name, op, _ in re.findall(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}", COMPOSE_TEXT):
        if not op.endswith("-"):  # required, or used bare: the operator fills it in deploy/.env
            assert name in EXAMPLE, f"compose.yaml uses ${{{name}}} but deploy/env.example does not list it"
    with pytest.raises(AssertionError, match="AIOS_SECRET_KEY is required"):
        interpolate(COMPOSE_TEXT, {"POSTGRES_PASSWORD": "x"})  # the operator forgot a secret: compose refuses


def test_the_worker_command_is_the_launchers_with_options_it_accepts(monkeypatch, capsys):
    argv = command("worker")
    assert argv[:3] == ["python3", "-m", "aios.launcher"] and argv[3] in launcher.EXTRAS
    # Without a database and broker the launcher stops right after parsing: it never starts Celery here.
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert launcher.worker(argv[4:]) == 2
    assert "must be set" in capsys.readouterr().out
    assert {"DATABASE_URL", "REDIS_URL"} <= set(COMPOSE["x-aios-env"])  # which the container does have
    with pytest.raises(SystemExit):  # the check can fail: an option the launcher does not know
        launcher.worker([*argv[4:], "--prefetch", "4"])


def test_migrate_is_a_django_command_with_options_it_accepts():
    argv = command("migrate")
    assert argv[:2] == ["python", "manage.py"] and (BASE_DIR / "manage.py").exists()
    parser = load_command_class(get_commands()[argv[2]], argv[2]).create_parser("manage.py", argv[2])
    assert parser.parse_args(argv[3:]).interactive is False


def test_beat_is_celerys_with_options_it_accepts_and_a_schedule_folder_the_image_makes():
    argv = command("beat")
    assert argv[0] == "celery"
    group, beat = celery_parse(argv[1:])
    assert group["app"] == "aios.celery" and beat["loglevel"] == 20
    folder = str(Path(beat["schedule"]).parent)
    assert any(op == "RUN" and f"mkdir -p {folder}" in args and "chown -R aios " + folder in args
               for op, args in dockerfile_instructions()), f"the image does not make {folder} for the aios user"
    with pytest.raises(click.UsageError):
        celery_parse([*argv[1:], "--schedul-file", "x"])


def test_web_and_the_images_default_command_are_uvicorn_with_options_it_accepts():
    shell = command("web")
    assert shell[:2] == ["sh", "-c"]
    started = [part.strip() for part in shell[2].split("&&")][-1]
    web = uvicorn_parse(shlex.split(started)[1:] if started.startswith("exec ") else shlex.split(started))
    assert (web["ws"], web["workers"], web["proxy_headers"]) == ("websockets", 2, True)
    [cmd] = [json.loads(args) for op, args in dockerfile_instructions() if op == "CMD"]
    assert uvicorn_parse(cmd)["app"] == web["app"]
    assert resolve("/healthz").url_name == "healthz"  # what the web healthcheck asks for
    with pytest.raises(click.UsageError):
        uvicorn_parse(["uvicorn", web["app"], "--threads", "4"])  # gunicorn's, not uvicorn's


def test_the_image_installs_the_dependencies_and_extras_pyproject_declares():
    """The Dockerfile's own requirement-listing line, run against the real pyproject.toml."""
    [run] = [args for op, args in dockerfile_instructions() if op == "RUN" and "tomllib" in args]
    listing = run.split(">", 1)[0]
    python, flag, code = shlex.split(listing)
    assert (python, flag) == ("python", "-c")
    copied = {dst: src for op, args in dockerfile_instructions() if op == "COPY" for src, dst in [args.split()]}
    assert copied.get("/tmp/pyproject.toml") == "pyproject.toml"
    done = subprocess.run([sys.executable, "-c", code.replace("/tmp/pyproject.toml", str(BASE_DIR / "pyproject.toml"))],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # a KeyError here: an extra that pyproject.toml lacks
    names = {re.split(r"[\[<>=!~ ;]", line, 1)[0].lower() for line in done.stdout.split()}
    assert {"django", "celery", "uvicorn", "opentelemetry-sdk"} <= names


def test_the_images_venv_is_the_one_the_launcher_runs_in():
    """Else `python3 -m aios.launcher worker` in the container would build a second venv at every start."""
    workdir = [args for op, args in dockerfile_instructions() if op == "WORKDIR"][-1]
    assert f"VIRTUAL_ENV={workdir}/.venv" in DOCKERFILE and f"PATH={workdir}/.venv/bin:" in DOCKERFILE
    assert launcher.VENV == BASE_DIR / ".venv" and "COPY . /app" in DOCKERFILE and workdir == "/app"
    ignored = [line.strip() for line in (BASE_DIR / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert {".venv", "var", "deploy/.env"} <= set(ignored)  # no host venv, data or secrets in the image
    # nor the model server's GGUF (several GB): `COPY . /app` took a file placed there into every build
    [models] = [v.split(":")[0] for v in COMPOSE["services"]["model"]["volumes"]]
    assert models == "./models" and "deploy/models" in ignored  # compose paths are relative to deploy/


def test_web_sums_request_metrics_over_its_processes():
    web = COMPOSE["services"]["web"]
    assert web["environment"]["PROMETHEUS_MULTIPROC_DIR"] in web["tmpfs"]
    assert "--workers" in web["command"][-1]


def test_the_web_healthcheck_sends_a_host_that_django_allows(monkeypatch):
    """Django answers 400 to a Host outside ALLOWED_HOSTS, so a probe of http://127.0.0.1:8000 with its own
    Host header kept `web` unhealthy for ever (seen when the stack was first started for real)."""
    from django.conf import settings
    from django.http.request import split_domain_port, validate_host

    test = COMPOSE["services"]["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    sent = []
    monkeypatch.setattr("urllib.request.urlopen", lambda request, timeout: sent.append(request))
    for allowed in (EXAMPLE["AIOS_ALLOWED_HOSTS"], ".example.com, aios.example.com"):
        monkeypatch.setenv("AIOS_ALLOWED_HOSTS", allowed)
        exec(test[3], {})
        request = sent.pop()
        host = request.get_header("Host") or request.host  # urllib sends the URL's host unless told otherwise
        assert validate_host(split_domain_port(host)[0], [h.strip() for h in allowed.split(",")]), host
        path = request.selector.lstrip("/")
        assert resolve("/" + path).url_name == "healthz"
        # Plain http inside the network: the https redirect must not answer the probe with a 301.
        assert request.get_header("X-forwarded-proto") == "https" or any(
            re.match(pattern, path) for pattern in settings.SECURE_REDIRECT_EXEMPT)


def test_the_image_builds_without_pytorchs_index_when_told_to():
    """A build machine that cannot reach download.pytorch.org passes TORCH_INDEX_URL= and a wheel folder:
    pip then gets no extra index, and the pip settings given as build arguments reach pip."""
    declared = {args.split("=")[0] for op, args in dockerfile_instructions() if op == "ARG"}
    assert {"TORCH_INDEX_URL", "PIP_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST"} <= declared
    [run] = [args for op, args in dockerfile_instructions() if op == "RUN" and "pip install" in args]
    install = "pip install" + run.split("pip install", 1)[1]
    default = [args.split("=", 1)[1] for op, args in dockerfile_instructions() if args.startswith("TORCH_INDEX_URL=")]
    assert default == ["https://download.pytorch.org/whl/cpu"]

    def pip_argv(torch_index_url: str) -> list[str]:
        script = "pip() { for a in \"$@\"; do echo \"$a\"; done; }; " + install
        done = subprocess.run(["sh", "-c", script], env={"TORCH_INDEX_URL": torch_index_url, "PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True, check=True)
        return done.stdout.split("\n")[:-1]

    assert pip_argv(default[0]) == ["install", "--extra-index-url", default[0], "-r", "/tmp/requirements.txt"]
    assert pip_argv("") == ["install", "-r", "/tmp/requirements.txt"]
