"""Optional OpenTelemetry tracing: web request → Celery task → model call → webhook delivery.

Switched on only by the standard environment variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), or `OTEL_TRACES_EXPORTER` (`otlp`, `console`; `none` = off);
`OTEL_SDK_DISABLED=true` turns it off whatever else is set. The rest is the SDK's own configuration
(`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_TRACES_SAMPLER`,
`OTEL_BSP_SCHEDULE_DELAY`, …). The OTLP exporter speaks http/protobuf.

When none is set, this module imports nothing but `os`: no SDK, no instrumentation, no tracer
provider, no cost. The packages are the optional `otel` extra of pyproject.toml: redis-py 8 imports
`opentelemetry.sdk.metrics` whenever the SDK is installed (~0.15 s once per process), so a machine
that does not trace need not carry it. When set, three instrumentations do the work:

* Django (web process): a server span per request, continuing an incoming `traceparent`;
* Celery (web and workers): the publishing side writes the trace context into the message headers,
  the worker continues it around the task;
* httpx and httpx2 (workers): a client span for each call — the model call (the openai SDK 3 runs
  on httpx2) and the webhook delivery (httpx, `governance/publishing/delivery.py`) — carrying
  `traceparent` onwards.

Workers set up in each pool process after the fork (`worker_process_init`, aios/celery.py), since a
batch exporter's thread does not survive a fork; the web process before Django loads its middleware
(aios/asgi.py).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

_state: dict[str, Any] = {"provider": None, "instrumentors": []}


def tracing_wanted(environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = [e.strip().lower() for e in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if e.strip()]
    if exporters:
        return exporters != ["none"]
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def _exporters(environ: Mapping[str, str]) -> list[Any]:
    names = [e.strip().lower() for e in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if e.strip()]
    exporters: list[Any] = []
    for name in names:
        if name == "otlp":
            protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
            if protocol != "http/protobuf":
                raise RuntimeError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: AIOS ships the http/protobuf "
                                   "OTLP exporter only; point it at the collector's HTTP port (4318).")
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporters.append(OTLPSpanExporter())
        elif name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporters.append(ConsoleSpanExporter())
        elif name != "none":
            raise RuntimeError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (use otlp, console or none).")
    return exporters


def tracing_setup(*, role: str, environ: Mapping[str, str] = os.environ) -> Any:
    """Install the tracer provider and the instrumentations for a process (`role`: web or worker);
    the provider, or None when tracing is off. Safe to call twice."""
    if _state["provider"] is not None:
        return _state["provider"]
    if not tracing_wanted(environ):
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor, HTTPXClientInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise RuntimeError(f"OTEL_* variables ask for tracing but OpenTelemetry is not installed ({exc}): "
                           "install the `otel` extra, e.g. pip install '.[otel]'.") from exc

    service = environ.get("OTEL_SERVICE_NAME") or f"aios-{role}"
    provider = TracerProvider(resource=Resource.create({"service.name": service, "aios.role": role}))
    for exporter in _exporters(environ):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    # httpx for webhook deliveries; httpx2 for the model calls (the openai SDK 3 runs on it).
    instrumentors: list[Any] = [CeleryInstrumentor(), HTTPXClientInstrumentor(), HTTPX2ClientInstrumentor()]
    if role == "web":
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        instrumentors.append(DjangoInstrumentor())
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    _state.update(provider=provider, instrumentors=instrumentors)
    return provider


def tracing_flush(timeout_millis: int = 5000) -> None:
    """Send what is buffered (a worker child about to exit)."""
    if _state["provider"] is not None:
        _state["provider"].force_flush(timeout_millis)
