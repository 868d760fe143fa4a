"""/metrics with several web processes (uvicorn --workers 2, prometheus-client multiprocess mode):
one scrape sums the requests every process served."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aios import devstack

BASE_DIR = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.e2e]
TOKEN = "multi-process-scrape"


def healthz_count(text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "django_http_responses_total_by_status_view_method_total"
                    and sample.labels.get("view") == "healthz"):
                total += sample.value
    return total


def test_a_scrape_sums_the_requests_of_every_web_process(services, transactional_db):
    port = devstack.free_port()
    metrics_dir = Path(tempfile.mkdtemp(prefix="aios-prom-"))
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE" and not k.startswith("OTEL_")},
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgresql://postgres@/test_aios?host={services.pg_dir}",
        "REDIS_URL": services.redis_url,
        "AIOS_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PYTHONPATH": str(BASE_DIR),
    }
    web = devstack.spawn([*devstack.asgi_args(port=port), "--workers", "2"], env=env)
    try:
        devstack.wait_http(f"http://127.0.0.1:{port}/login/", proc=web, timeout=90)
        url = f"http://127.0.0.1:{port}"
        for _ in range(30):  # a new connection each time, so the kernel spreads them over both processes
            with httpx.Client(base_url=url, timeout=10) as client:
                client.get("/healthz")
        with httpx.Client(base_url=url, timeout=10) as client:
            scraped = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200
        assert healthz_count(scraped.text) == 30
        writers = {p.name for p in metrics_dir.glob("counter_*.db")}
        assert len(writers) >= 2, writers  # both processes counted (one file per process)
        assert "celery_queue_length" in scraped.text  # the scrape-time figures are there too
    finally:
        devstack.stop(web)
