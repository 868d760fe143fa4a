"""GET /metrics: the Prometheus endpoint for operations (text exposition format, prometheus-client).

Two kinds of figures, so that it works the same with one process or many (ASGI web + Celery workers
on several machines):

* **Per request** (counted in the web process by `request_metrics_middleware`, named like
  django-prometheus's): `django_http_requests_latency_seconds_by_view_method` (histogram) and
  `django_http_responses_total_by_status_view_method`. With several web processes, set the standard
  `PROMETHEUS_MULTIPROC_DIR` (an empty folder shared by them, wiped at start): prometheus-client then
  writes each process's values there and every scrape sums them (`MultiProcessCollector`).
* **Everything else is read at scrape time** by `OperationsCollector` from where it already lives,
  with a handful of aggregate queries: Celery queue depth (Valkey/Redis list lengths per queue),
  agent runs in flight and finished in the last window by kind and status, breaker states, budget
  spend against caps, and webhook deliveries waiting or lately delivered. No worker counts anything,
  so workers need no multiprocess set-up and any machine's scrape sees the whole system.

Access: a bearer token (`AIOS_METRICS_TOKEN`) or a client address in `AIOS_METRICS_ALLOW_IPS`
(addresses or networks). With neither set the endpoint answers 403: it is off.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

import redis
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db.models import Count, F, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from agents.models import AgentRun, BreakerState, Budget, ModelVersion, SpendDay
from aios.api import problem
from aios.celery import app as celery_app
from governance.models import Delivery

# --- per request ---------------------------------------------------------------------------------

REQUEST_LATENCY = Histogram(
    "django_http_requests_latency_seconds_by_view_method",
    "Time from the request reaching Django to its response, by view and method.",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0),
)
RESPONSES = Counter(
    "django_http_responses_total_by_status_view_method",
    "Responses by status code, view and method.",
    ["status", "view", "method"],
)
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    # The URL name, never the path: a path label would make one series per draft id.
    view = (match.view_name or "<unnamed>") if match is not None else "<unresolved>"
    method = request.method if request.method in METHODS else "<other>"
    REQUEST_LATENCY.labels(view, method).observe(time.perf_counter() - started)
    RESPONSES.labels(str(response.status_code), view, method).inc()


def request_metrics_middleware(get_response: Callable) -> Callable:
    """First in MIDDLEWARE: times the whole Django stack for each request, sync or async."""
    if iscoroutinefunction(get_response):
        async def middleware(request: HttpRequest) -> HttpResponse:
            started = time.perf_counter()
            response = await get_response(request)
            _observe(request, response, started)
            return response

        return markcoroutinefunction(middleware)

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        _observe(request, response, started)
        return response

    return sync_middleware


request_metrics_middleware.sync_capable = True
request_metrics_middleware.async_capable = True


# --- read at scrape time -------------------------------------------------------------------------

# kombu's Redis transport keeps a queue with priorities as one list per priority step: `<queue>`
# for the default and `<queue>\x06\x16<n>` for the others.
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = range(1, 10)


def queue_names() -> list[str]:
    names = [celery_app.conf.task_default_queue or "celery", *settings.AIOS_METRICS_QUEUES]
    for queue in celery_app.conf.task_queues or ():
        names.append(getattr(queue, "name", str(queue)))
    return list(dict.fromkeys(names))


def queue_depths(names: list[str]) -> tuple[dict[str, int], int]:
    """Messages waiting per queue (all priorities) and messages delivered but not yet acknowledged;
    one round trip to the broker."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.llen(name)
            for step in PRIORITY_STEPS:
                pipe.llen(f"{name}{PRIORITY_SEP}{step}")
        pipe.hlen("unacked")
        answers = pipe.execute()
    finally:
        client.close()
    width = 1 + len(PRIORITY_STEPS)
    depths = {name: sum(answers[i * width:(i + 1) * width]) for i, name in enumerate(names)}
    return depths, answers[-1]


class OperationsCollector:
    """Gauges computed from the database and the broker when Prometheus scrapes (a custom
    prometheus-client collector): each is one aggregate query on a small or indexed set of rows."""

    def describe(self) -> Iterable[Metric]:
        return []  # nothing is queried when the collector is registered

    def collect(self) -> Iterator[Metric]:
        yield from self._queues()
        yield from self._runs()
        yield from self._breakers()
        yield from self._budgets()
        yield from self._deliveries()

    def _queues(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("aios_broker_up", "1 when the broker answered this scrape.")
        depth = GaugeMetricFamily("celery_queue_length", "Messages waiting in a Celery queue.", labels=["queue"])
        unacked = GaugeMetricFamily("celery_queue_unacked", "Messages taken by a worker and not yet acknowledged.")
        try:
            depths, held = queue_depths(queue_names())
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for name, length in depths.items():
            depth.add_metric([name], length)
        unacked.add_metric([], held)
        yield from (up, depth, unacked)

    def _runs(self) -> Iterator[Metric]:
        # Both queries walk the (status, finished_at) index: in-flight runs are few, and finished
        # runs are counted only inside the window, so the cost does not grow with the history.
        in_flight = GaugeMetricFamily("aios_agent_runs_in_flight", "Agent runs queued or running.",
                                      labels=["kind", "status"])
        counts = {(kind, status): 0 for status in (AgentRun.Status.QUEUED, AgentRun.Status.RUNNING)
                  for kind in AgentRun.Kind.values}
        open_rows = (AgentRun.objects.filter(status__in=[AgentRun.Status.QUEUED, AgentRun.Status.RUNNING])
                     .values("kind", "status").annotate(n=Count("id")).order_by())
        for row in open_rows:
            counts[(row["kind"], row["status"])] = row["n"]
        for (kind, status), n in counts.items():
            in_flight.add_metric([kind, status], n)
        yield in_flight

        window = settings.AIOS_METRICS_WINDOW_SECONDS
        finished = GaugeMetricFamily(
            "aios_agent_runs_finished_recent", f"Agent runs finished in the last {window:g} seconds.",
            labels=["kind", "status"],
        )
        since = timezone.now() - timedelta(seconds=window)
        done = (AgentRun.objects.filter(
            status__in=[AgentRun.Status.SUCCEEDED, AgentRun.Status.FAILED, AgentRun.Status.CANCELLED],
            finished_at__gte=since,
        ).values("kind", "status").annotate(n=Count("id")).order_by())
        for row in done:
            finished.add_metric([row["kind"], row["status"]], row["n"])
        yield finished

    def _breakers(self) -> Iterator[Metric]:
        state = GaugeMetricFamily("aios_model_breaker_state",
                                  "1 for the circuit breaker's current state of a model version.",
                                  labels=["model_version", "state"])
        failures = GaugeMetricFamily("aios_model_breaker_failures", "Consecutive failed calls counted.",
                                     labels=["model_version"])
        versions = ModelVersion.objects.exclude(status=ModelVersion.Status.RETIRED).values_list(
            "name", "breaker_state", "breaker_failures")
        for name, current, count in versions:
            for candidate in BreakerState.values:
                state.add_metric([name, candidate], 1 if candidate == current else 0)
            failures.add_metric([name], count)
        yield from (state, failures)

    def _budgets(self) -> Iterator[Metric]:
        spend = GaugeMetricFamily("aios_budget_spend", "Model spend (currency units) of a brand in the period.",
                                  labels=["brand", "period", "kind"])
        caps = GaugeMetricFamily("aios_budget_cap", "A brand's spending cap (currency units) for the period.",
                                 labels=["brand", "period"])
        today = timezone.localdate()
        for row in SpendDay.objects.filter(day=today).values("brand__slug", "spent", "reserved"):
            spend.add_metric([row["brand__slug"], "day", "spent"], float(row["spent"]))
            spend.add_metric([row["brand__slug"], "day", "reserved"], float(row["reserved"]))
        month = (SpendDay.objects.filter(day__gte=today.replace(day=1), day__lte=today)
                 .values("brand__slug").annotate(total=Sum(F("spent") + F("reserved"))).order_by())
        for row in month:
            spend.add_metric([row["brand__slug"], "month", "spent_and_reserved"], float(row["total"] or 0))
        for row in Budget.objects.values("brand__slug", "daily_cap", "monthly_cap"):
            for period, cap in (("day", row["daily_cap"]), ("month", row["monthly_cap"])):
                if cap is not None:
                    caps.add_metric([row["brand__slug"], period], float(cap))
        yield from (spend, caps)

    def _deliveries(self) -> Iterator[Metric]:
        # Through the (status, delivered_at) index: the waiting ones, and those delivered in the window.
        waiting = GaugeMetricFamily("aios_deliveries_waiting",
                                    "Webhook deliveries not yet delivered: pending, retrying, or dead letters.",
                                    labels=["status"])
        open_states = [Delivery.Status.PENDING, Delivery.Status.RETRYING, Delivery.Status.DEAD]
        counts = dict(Delivery.objects.filter(status__in=open_states).values_list("status")
                      .annotate(n=Count("id")).order_by())
        for status in open_states:
            waiting.add_metric([status], counts.get(status, 0))
        window = settings.AIOS_METRICS_WINDOW_SECONDS
        delivered = GaugeMetricFamily("aios_deliveries_delivered_recent",
                                      f"Webhook deliveries confirmed in the last {window:g} seconds.")
        since = timezone.now() - timedelta(seconds=window)
        delivered.add_metric([], Delivery.objects.filter(status=Delivery.Status.DELIVERED,
                                                         delivered_at__gte=since).count())
        yield from (waiting, delivered)


class _Registered:
    """The process's own registry (request metrics, process and platform collectors) as one collector."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # only meaningful (and valid) in multiprocess mode

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Registered())
    registry.register(OperationsCollector())
    return registry


# --- access --------------------------------------------------------------------------------------

def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in settings.AIOS_METRICS_ALLOW_IPS]


def scrape_allowed(request: HttpRequest) -> bool:
    token = settings.AIOS_METRICS_TOKEN
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
        return True
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(client in network for network in _allowed_networks())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.AIOS_METRICS_TOKEN and not settings.AIOS_METRICS_ALLOW_IPS:
        return problem(403, "The metrics endpoint is off: set AIOS_METRICS_TOKEN or AIOS_METRICS_ALLOW_IPS.",
                       code="metrics_off")
    if not scrape_allowed(request):
        return problem(401, "Send the metrics token as 'Authorization: Bearer <token>', or scrape from an "
                            "allowed address.", code="metrics_unauthorized",
                       headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)

