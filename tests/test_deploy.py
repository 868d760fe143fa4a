"""deploy/compose.yaml: the services a team starts from, wired with variables the app really reads."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((BASE_DIR / "deploy" / "compose.yaml").read_text())
READERS = "".join((BASE_DIR / p).read_text() for p in ("aios/settings.py", "aios/launcher.py", "aios/tracing.py"))
# Read by compose itself (image, ports, process counts), not by the app.
COMPOSE_ONLY = {"AIOS_IMAGE", "AIOS_GGUF_FILE", "AIOS_WEB_PROCESSES", "AIOS_WORKER_CONCURRENCY", "AIOS_DB_BIND",
                "AIOS_VALKEY_BIND", "AIOS_WEB_BIND"}
# Added by the security branch (production defaults, /healthz details); read by settings once merged.
FROM_SECURITY_BRANCH = {"AIOS_BEHIND_TLS_PROXY", "AIOS_HEALTH_TOKEN"}


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
    example = re.findall(r"^([A-Z_]+)=", (BASE_DIR / "deploy" / "env.example").read_text(), re.MULTILINE)
    for name in [*env, *example]:
        if name.startswith(("AIOS_", "OTEL_")) and name not in COMPOSE_ONLY | FROM_SECURITY_BRANCH:
            assert f'"{name}"' in READERS, f"{name} is set in deploy/ but nothing reads it"


def test_web_sums_request_metrics_over_its_processes():
    web = COMPOSE["services"]["web"]
    assert web["environment"]["PROMETHEUS_MULTIPROC_DIR"] in web["tmpfs"]
    assert "--workers" in web["command"][-1]
