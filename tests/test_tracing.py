"""Optional OpenTelemetry tracing (aios/tracing.py): off and free without OTEL_* variables; with them,
one trace from the web request through the Celery worker to the model call."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from aios.tracing import tracing_wanted
from editorial.models import Draft
from tests.conftest import csrf_token
from tests.factories import build_world

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("environ", "wanted"), [
    ({}, False),
    ({"OTEL_SERVICE_NAME": "aios"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
    ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
])
def test_tracing_is_wanted_only_when_the_standard_variables_ask_for_it(environ, wanted):
    assert tracing_wanted(environ) is wanted


PROBE = """
import sys
import aios.asgi, aios.celery
from celery.signals import worker_process_init
worker_process_init.send(sender=None)
from django.conf import settings
# redis-py imports opentelemetry.sdk.metrics by itself when the SDK is installed; ours would be these.
ours = ("opentelemetry.sdk.trace", "opentelemetry.instrumentation", "opentelemetry.exporter")
loaded = sorted(m for m in sys.modules if m.startswith(ours))
from opentelemetry import trace
print("RESULT", type(trace.get_tracer_provider()).__name__, loaded,
      [m for m in settings.MIDDLEWARE if "opentelemetry" in m])
"""


def probe(**extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", PYTHONPATH=str(BASE_DIR), **extra)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=BASE_DIR, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return next(line for line in out.stdout.splitlines() if line.startswith("RESULT"))


def test_without_otel_variables_no_tracer_provider_exporter_or_instrumentation_is_loaded():
    assert probe() == "RESULT ProxyTracerProvider [] []"


def test_with_an_exporter_set_the_web_and_worker_set_up_a_provider_and_the_django_middleware():
    result = probe(OTEL_TRACES_EXPORTER="console")
    assert result.startswith("RESULT TracerProvider ")
    assert "opentelemetry.instrumentation.celery" in result and "opentelemetry.instrumentation.httpx" in result
    assert "opentelemetry.instrumentation.django.middleware" in result


class Collector:
    """An OTLP/HTTP (protobuf) trace receiver, as an OpenTelemetry Collector listens on :4318."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                request = ExportTraceServiceRequest()
                request.ParseFromString(self.rfile.read(int(self.headers["content-length"])))
                for resource_spans in request.resource_spans:
                    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope in resource_spans.scope_spans:
                        for span in scope.spans:
                            attributes = {a.key: (a.value.string_value or a.value.int_value)
                                          for a in span.attributes}
                            collector.spans.append({
                                "trace": span.trace_id.hex(), "name": span.name, "kind": span.kind,
                                "service": resource.get("service.name"), "attributes": attributes,
                            })
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def collector(monkeypatch):
    receiver = Collector()
    # Read by the live stack's processes (the fixture below copies os.environ into their environment).
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def traced_stack(collector, live_stack):
    return live_stack


@pytest.mark.slow
@pytest.mark.e2e
def test_a_filed_brief_is_one_trace_from_the_request_through_the_worker_to_the_model_call(
    collector, traced_stack, transactional_db,
):
    world = build_world()
    rita = traced_stack.client("rita")
    form = rita.get("/briefs/new/")
    filed = rita.post("/briefs/new/", data={
        "csrfmiddlewaretoken": csrf_token(form.text), "brand": world.brand.pk, "title": "Traced roast",
        "goal": "Announce the traced roast", "audience": "coffee lovers", "channel": "blog", "tone": "warm",
        "risk": "low", "template": world.template.pk,
    })
    assert filed.status_code == 200 and "/drafts/" in str(filed.url)
    draft = Draft.objects.get()
    llm_port = traced_stack.llm.base_url.split(":")[-1].split("/")[0]

    def model_calls() -> list[dict]:
        return [s for s in collector.spans if s["service"] == "aios-worker" and s["kind"] == 3  # CLIENT
                and llm_port in json.dumps(s["attributes"])]

    def requests() -> list[dict]:
        return [s for s in collector.spans if s["service"] == "aios-web" and s["kind"] == 2  # SERVER
                and s["name"] == "POST briefs/new/"]

    # Each process exports in batches (every 100 ms here): on a loaded machine the web server's batch
    # can arrive after the worker's, so wait for both rather than a fixed time.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        draft.refresh_from_db()
        if draft.status != Draft.Status.GENERATING and model_calls() and requests():
            break
        time.sleep(0.3)
    time.sleep(0.5)  # the last batches of spans
    assert draft.status == Draft.Status.IN_REVIEW, draft.status_reason
    requests = requests()
    assert len(requests) == 1, [s["name"] for s in collector.spans if s["service"] == "aios-web"]
    trace_id = requests[0]["trace"]
    tasks = [s for s in collector.spans if s["service"] == "aios-worker" and s["name"].startswith("run/")]
    assert tasks and all(t["trace"] == trace_id for t in tasks), {t["trace"] for t in tasks}
    assert model_calls() and all(call["trace"] == trace_id for call in model_calls())

    # Approving is one trace per request; publishing's trace reaches the webhook delivery's POST.
    eddie = traced_stack.client("eddie")
    page = eddie.get(f"/drafts/{draft.pk}/")
    eddie.post(f"/drafts/{draft.pk}/gates/{world.gates['editorial'].pk}/", data={
        "decision": "approve", "revision": draft.current_revision_id, "comment": "",
        "csrfmiddlewaretoken": csrf_token(page.text)})
    page = eddie.get(f"/drafts/{draft.pk}/")
    published = eddie.post(f"/drafts/{draft.pk}/publish/", data={"csrfmiddlewaretoken": csrf_token(page.text)})
    assert "Published." in published.text

    def webhook_posts() -> list[dict]:  # the test connector's URL is 127.0.0.1:9 (nothing listens: an error span)
        return [s for s in collector.spans if s["service"] == "aios-worker" and s["kind"] == 3
                and "127.0.0.1:9/hook" in json.dumps(s["attributes"])]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not webhook_posts():
        time.sleep(0.3)
    publish = [s for s in collector.spans if s["name"] == "POST drafts/<int:pk>/publish/"]
    assert len(publish) == 1 and webhook_posts()
    assert webhook_posts()[0]["trace"] == publish[0]["trace"] != trace_id
