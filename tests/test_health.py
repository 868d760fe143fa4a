from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_healthz_answers_503_and_names_what_is_down(client, settings):
    settings.AIOS_LLM_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens there; no worker runs either
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503 and body["ok"] is False
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert not body["checks"]["workers"]["ok"] and "no Celery worker" in body["checks"]["workers"]["detail"]
    assert not body["checks"]["model_server"]["ok"]


def test_healthz_refuses_post(client):
    assert client.post("/healthz").status_code == 405
