from __future__ import annotations

import json

import pytest
from django.test import Client

from editorial import selectors
from editorial.models import Brief
from governance import tokens
from governance.tokens import token_create
from tests.factories import PASSWORD
from tests.helpers import draft_in_review

PROBLEM = "application/problem+json"


def brief_body(world, **changes) -> str:
    body = {"brand": world.brand.slug, "title": "Autumn", "goal": "Announce the roast", "audience": "fans",
            "channel": "blog", "tone": "warm", "risk": "low", "template": world.template.slug}
    return json.dumps({**body, **changes})


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.fixture
def rita(client, world):
    assert client.login(username="rita", password=PASSWORD)
    return client


def test_malformed_json_is_a_400_problem_saying_so(rita, world):
    response = rita.post("/api/v1/briefs", "{not json", content_type="application/json")
    body = assert_problem(response, 400)
    assert "not valid JSON" in body["detail"] and body["code"] == "invalid_json"
    assert not Brief.objects.exists()


def test_anonymous_callers_get_a_401_problem(client, world):
    body = assert_problem(client.get("/api/v1/drafts/1"), 401)
    assert body["code"] == "not_authenticated" and "Bearer" in body["detail"]
    assert client.get("/api/v1/drafts/1")["WWW-Authenticate"].startswith("Bearer")


def test_a_missing_scope_is_a_403_problem(client, world):
    draft = draft_in_review(world)
    _, raw = token_create(user=world.editor, name="w", scopes=["write"], expires_in_days=1, created_by=world.editor)
    body = assert_problem(client.get(f"/api/v1/drafts/{draft.pk}", headers={"Authorization": f"Bearer {raw}"}), 403)
    assert "read" in body["detail"]


def test_a_failed_csrf_check_is_a_403_problem(world):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="rita", password=PASSWORD)
    body = assert_problem(client.post("/api/v1/briefs", brief_body(world), content_type="application/json"), 403)
    assert "CSRF" in body["detail"]


def test_an_unknown_draft_is_a_404_problem(rita, world):
    assert_problem(rita.get("/api/v1/drafts/999999"), 404)


def test_an_unknown_endpoint_is_a_404_problem(rita, world):
    body = assert_problem(rita.get("/api/v1/no-such-thing"), 404)
    assert "/api/v1/no-such-thing" in body["detail"]


@pytest.mark.parametrize(("method", "path"), [("put", "/api/v1/briefs"), ("delete", "/api/v1/drafts/1")])
def test_a_wrong_method_is_a_405_problem_with_allow(rita, world, method, path):
    response = getattr(rita, method)(path)
    body = assert_problem(response, 405)
    assert method.upper() in body["detail"] and response.has_header("Allow")


def test_an_oversized_body_is_a_413_problem(rita, world, settings):
    settings.AIOS_API_MAX_BODY_BYTES = 2000
    body = assert_problem(
        rita.post("/api/v1/briefs", brief_body(world, goal="x" * 3000), content_type="application/json"), 413)
    assert body["max_bytes"] == 2000 and "2000" in body["detail"]
    assert not Brief.objects.exists()


def test_a_body_under_the_limit_is_accepted(rita, world, settings):
    settings.AIOS_API_MAX_BODY_BYTES = 2000
    assert rita.post("/api/v1/briefs", brief_body(world), content_type="application/json").status_code == 201


@pytest.mark.parametrize(("change", "field"), [
    ({"channel": "fax"}, "body.channel"), ({"title": ""}, "body.title"), ({"surprise": 1}, "body.surprise"),
])
def test_an_invalid_body_is_a_422_problem_listing_the_fields(rita, world, change, field):
    body = assert_problem(rita.post("/api/v1/briefs", brief_body(world, **change), content_type="application/json"),
                          422)
    assert body["code"] == "validation_error"
    assert [e["field"] for e in body["errors"]] == [field]
    assert field in body["detail"] and body["errors"][0]["message"]


def test_a_missing_field_is_named(rita, world):
    payload = json.loads(brief_body(world))
    del payload["title"]
    body = assert_problem(rita.post("/api/v1/briefs", json.dumps(payload), content_type="application/json"), 422)
    assert body["errors"] == [{"field": "body.title", "message": "This field is required."}]


def test_a_service_validation_error_is_a_422_problem_naming_the_field(rita, world):
    response = rita.post("/api/v1/briefs", brief_body(world, brand=world.other_brand.slug),
                         content_type="application/json")
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "brand" and "brand" in body["detail"]


def test_a_bad_query_parameter_is_a_422_problem(client, world):
    draft = draft_in_review(world)
    assert client.login(username="eddie", password=PASSWORD)
    body = assert_problem(client.get(f"/api/v1/drafts/{draft.pk}/diff", {"a": "x"}), 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"query.a", "query.b"} <= fields


def test_a_rate_limit_is_a_429_problem(client, world, monkeypatch):
    monkeypatch.setattr(tokens, "_clock", lambda: 1_700_000_099.5)  # half a second before its minute ends
    _, raw = token_create(user=world.editor, name="r", scopes=["read"], expires_in_days=1, created_by=world.editor,
                          rate_limit_per_minute=1)
    headers = {"Authorization": f"Bearer {raw}"}
    client.get("/api/v1/drafts/1", headers=headers)
    response = client.get("/api/v1/drafts/1", headers=headers)
    body = assert_problem(response, 429)
    assert response["Retry-After"] == "1" and body["retry_after"] == 1 and body["code"] == "rate_limited"


def test_a_crash_is_a_500_problem_without_internals(rita, world, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "draft_get_for_user", broken)
    client = Client(raise_request_exception=False)
    assert client.login(username="rita", password=PASSWORD)
    response = client.get("/api/v1/drafts/1")
    assert_problem(response, 500)
    assert "secret internals" not in response.content.decode()


def test_successful_answers_stay_plain_json(rita, world):
    response = rita.post("/api/v1/briefs", brief_body(world), content_type="application/json")
    assert response.status_code == 201 and response["Content-Type"] == "application/json; charset=utf-8"


def test_pages_outside_the_api_are_left_alone(client, world):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and not response["Content-Type"].startswith(PROBLEM)
