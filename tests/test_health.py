from __future__ import annotations

import pytest

from tests.factories import PASSWORD, UserFactory

HEALTH_TOKEN = "health-token-for-tests-0123456789"


@pytest.fixture
def nothing_answers(settings):
    settings.AIOS_LLM_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens there; no worker runs either
    settings.AIOS_HEALTH_TOKEN = HEALTH_TOKEN


def _assert_details_name_what_is_down(response) -> None:
    body = response.json()
    assert response.status_code == 503 and body["ok"] is False
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert "pgvector" in body["checks"]["database"]["detail"]
    assert not body["checks"]["workers"]["ok"] and "no Celery worker" in body["checks"]["workers"]["detail"]
    assert not body["checks"]["model_server"]["ok"]


@pytest.mark.django_db
def test_anonymous_callers_get_only_not_ok_with_the_same_503(client, nothing_answers):
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"ok": False}
    assert "pgvector" not in response.content.decode()


@pytest.mark.django_db
def test_the_health_token_as_a_bearer_header_shows_what_is_down(client, nothing_answers):
    _assert_details_name_what_is_down(client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}"))


@pytest.mark.django_db
def test_a_wrong_token_gets_no_details(client, nothing_answers):
    response = client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {HEALTH_TOKEN}x")
    assert response.status_code == 503 and response.json() == {"ok": False}


@pytest.mark.django_db
def test_without_a_configured_token_an_empty_bearer_gets_no_details(client, nothing_answers, settings):
    settings.AIOS_HEALTH_TOKEN = ""
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer ").json() == {"ok": False}


@pytest.mark.django_db
def test_staff_see_the_details(client, nothing_answers):
    UserFactory(username="ops", is_staff=True)
    assert client.login(username="ops", password=PASSWORD)
    _assert_details_name_what_is_down(client.get("/healthz"))


def test_healthz_refuses_post(client):
    assert client.post("/healthz").status_code == 405
