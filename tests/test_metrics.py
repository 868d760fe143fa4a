"""GET /metrics: the Prometheus endpoint for operations (aios/metrics.py)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import redis
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from agents.models import AgentRun, BreakerState, Budget, ModelVersion, SpendDay
from governance.models import Delivery
from tests.helpers import draft_in_review

TOKEN = "scrape-token-123"


def value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


@pytest.fixture
def scrape(settings, client):
    settings.AIOS_METRICS_TOKEN = TOKEN
    settings.AIOS_METRICS_ALLOW_IPS = []

    def get() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=")
        return response.content.decode()
    return get


def test_it_is_off_until_a_token_or_an_allow_list_is_set(db, settings, client):
    settings.AIOS_METRICS_TOKEN = ""
    settings.AIOS_METRICS_ALLOW_IPS = []
    response = client.get("/metrics")
    assert response.status_code == 403
    assert "AIOS_METRICS_TOKEN" in response.json()["detail"]


def test_a_wrong_or_missing_token_is_refused_with_401(db, settings, client):
    settings.AIOS_METRICS_TOKEN = TOKEN
    settings.AIOS_METRICS_ALLOW_IPS = []
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-it")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_an_address_in_the_allow_list_scrapes_without_a_token(db, settings):
    settings.AIOS_METRICS_TOKEN = ""
    settings.AIOS_METRICS_ALLOW_IPS = ["10.0.0.0/8"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.168.1.9").get("/metrics").status_code == 401


def test_a_logged_in_editor_without_the_token_sees_nothing(world, settings, as_user):
    settings.AIOS_METRICS_TOKEN = TOKEN
    settings.AIOS_METRICS_ALLOW_IPS = []
    assert as_user("editor").get("/metrics").status_code == 401


def test_a_wrong_method_is_refused(db, settings, client):
    settings.AIOS_METRICS_TOKEN = TOKEN
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_requests_are_counted_by_view_name_and_status_with_a_latency_histogram(db, scrape, client):
    before = scrape()
    timed = value(before, "django_http_requests_latency_seconds_by_view_method_count", view="healthz",
                  method="GET") or 0
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page-here")
    after = scrape()
    # healthz answers 503 when a part is down (no worker in unit tests): count both.
    counted = sum(
        value(after, "django_http_responses_total_by_status_view_method_total", status=s, view="healthz",
              method="GET") or 0 for s in ("200", "503")
    ) - sum(
        value(before, "django_http_responses_total_by_status_view_method_total", status=s, view="healthz",
              method="GET") or 0 for s in ("200", "503")
    )
    assert counted == 2
    assert value(after, "django_http_requests_latency_seconds_by_view_method_count", view="healthz",
                 method="GET") == timed + 2
    assert (value(after, "django_http_responses_total_by_status_view_method_total", status="404",
                  view="<unresolved>", method="GET") or 0) >= 1


def test_queue_depth_is_read_from_the_broker_per_queue_and_priority(db, scrape, settings, services):
    client = redis.Redis.from_url(services.redis_url)
    client.delete("bulk", "bulk\x06\x163", "default")
    client.rpush("bulk", "m1", "m2")
    client.rpush("bulk\x06\x163", "m3")
    try:
        text = scrape()
        assert value(text, "aios_broker_up") == 1
        assert value(text, "celery_queue_length", queue="bulk") == 3
        assert value(text, "celery_queue_length", queue="default") == 0
    finally:
        client.delete("bulk", "bulk\x06\x163")


def test_an_unreachable_broker_reads_as_down_and_the_rest_still_answers(world, scrape, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    text = scrape()
    assert value(text, "aios_broker_up") == 0
    assert value(text, "aios_model_breaker_state", model_version=world.model_version.name, state="closed") == 1


def test_runs_in_flight_and_lately_finished_are_counted_by_kind_and_status(world, scrape):
    draft = draft_in_review(world)  # one succeeded write run, finished_at unset (so not "recent")
    now = timezone.now()
    AgentRun.objects.create(draft=draft, kind="write", status="queued", idempotency_key="m:1")
    AgentRun.objects.create(draft=draft, kind="write", status="running", idempotency_key="m:2")
    AgentRun.objects.create(draft=draft, kind="check", status="failed", idempotency_key="m:3", finished_at=now)
    AgentRun.objects.create(draft=draft, kind="check", status="failed", idempotency_key="m:4",
                            finished_at=now - timedelta(hours=2))
    text = scrape()
    assert value(text, "aios_agent_runs_in_flight", kind="write", status="queued") == 1
    assert value(text, "aios_agent_runs_in_flight", kind="write", status="running") == 1
    assert value(text, "aios_agent_runs_in_flight", kind="retrieve", status="running") == 0
    assert value(text, "aios_agent_runs_finished_recent", kind="check", status="failed") == 1


def test_breaker_states_budgets_and_deliveries_are_reported(world, scrape):
    ModelVersion.objects.filter(pk=world.model_version.pk).update(breaker_state=BreakerState.OPEN, breaker_failures=5)
    Budget.objects.create(brand=world.brand, daily_cap=Decimal("10"), monthly_cap=Decimal("100"))
    today = timezone.localdate()
    SpendDay.objects.create(brand=world.brand, day=today, spent=Decimal("2.5"), reserved=Decimal("0.5"))
    if today.day > 1:
        SpendDay.objects.create(brand=world.brand, day=today.replace(day=1), spent=Decimal("4"))
    draft = draft_in_review(world)
    now = timezone.now()
    for n, (status, delivered_at) in enumerate([("delivered", now), ("delivered", now - timedelta(hours=3)),
                                                ("dead", None), ("retrying", None)]):
        Delivery.objects.create(connector=world.connector, draft=draft, revision=draft.current_revision,
                                event_type="draft.published", webhook_id=f"msg_{n}", payload={}, status=status,
                                delivered_at=delivered_at)
    text = scrape()
    name = world.model_version.name
    assert value(text, "aios_model_breaker_state", model_version=name, state="open") == 1
    assert value(text, "aios_model_breaker_state", model_version=name, state="closed") == 0
    assert value(text, "aios_model_breaker_failures", model_version=name) == 5
    assert value(text, "aios_budget_spend", brand="northwind", period="day", kind="spent") == 2.5
    assert value(text, "aios_budget_spend", brand="northwind", period="month", kind="spent_and_reserved") == (
        7.0 if today.day > 1 else 3.0)
    assert value(text, "aios_budget_cap", brand="northwind", period="day") == 10
    assert value(text, "aios_deliveries_delivered_recent") == 1  # the other was three hours ago
    assert value(text, "aios_deliveries_waiting", status="dead") == 1
    assert value(text, "aios_deliveries_waiting", status="retrying") == 1
    assert value(text, "aios_deliveries_waiting", status="pending") == 0


def test_the_scrape_costs_the_same_few_queries_however_many_runs_exist(world, scrape, django_assert_max_num_queries):
    draft = draft_in_review(world)
    AgentRun.objects.bulk_create([
        AgentRun(draft=draft, kind="write", status="succeeded", idempotency_key=f"bulk:{i}",
                 finished_at=timezone.now()) for i in range(200)
    ])
    with django_assert_max_num_queries(8):
        text = scrape()
    assert value(text, "aios_agent_runs_finished_recent", kind="write", status="succeeded") == 200
