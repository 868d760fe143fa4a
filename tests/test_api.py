from __future__ import annotations

import json

import pytest

from editorial.models import Brief, Draft
from tests.factories import PASSWORD
from tests.helpers import draft_in_review


@pytest.fixture
def api(client, world):
    def as_user(name: str | None):
        if name:
            assert client.login(username=world.user(name).username, password=PASSWORD)
        return client
    return as_user


def brief_body(world, **changes):
    body = {"brand": world.brand.slug, "title": "Autumn", "goal": "Announce the roast", "audience": "fans",
            "channel": "blog", "tone": "warm", "risk": "medium", "template": world.template.slug}
    return json.dumps({**body, **changes})


def test_a_requester_files_a_brief_through_the_api(api, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api("requester").post("/api/v1/briefs", brief_body(world), content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "generating" and body["brand"] == world.brand.slug
    assert [g["gate"] for g in body["gates"]] == ["editorial", "brand"]
    assert len(callbacks) == 1 and Draft.objects.get().pk == body["id"]


@pytest.mark.parametrize(("change", "field"), [
    ({"channel": "fax"}, "channel"), ({"risk": "extreme"}, "risk"), ({"title": ""}, "title"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_briefs_get_422_naming_the_field_and_change_nothing(api, world, change, field):
    response = api("requester").post("/api/v1/briefs", brief_body(world, **change), content_type="application/json")
    assert response.status_code == 422
    assert field in json.dumps(response.json())
    assert not Brief.objects.exists()


def test_a_brief_for_a_brand_the_user_is_not_in_is_refused(api, world):
    response = api("requester").post("/api/v1/briefs", brief_body(world, brand=world.other_brand.slug),
                                     content_type="application/json")
    assert response.status_code == 422 and "brand" in response.json()["detail"]
    assert not Brief.objects.exists()


def test_malformed_json_is_a_clear_4xx(api, world):
    response = api("requester").post("/api/v1/briefs", "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500


def test_anonymous_callers_get_401(api, world):
    assert api(None).get("/api/v1/drafts/1").status_code == 401


def test_draft_detail_and_diff_respect_brand_membership(api, world):
    draft = draft_in_review(world)
    body = api("editor").get(f"/api/v1/drafts/{draft.pk}").json()
    assert body["current_revision"]["content"] == "## Part 1\n\nHello coffee lovers."
    assert [r["kind"] for r in body["runs"]] == ["plan", "write"]
    rev = draft.current_revision_id
    assert api("editor").get(f"/api/v1/drafts/{draft.pk}/diff", {"a": rev, "b": rev}).json()["words_added"] == 0
    api(None).logout()
    assert api("outsider").get(f"/api/v1/drafts/{draft.pk}").status_code == 404


def test_the_openapi_schema_is_served_locally(client):
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "AIOS Editorial API"
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "cdn" not in docs.content.decode().lower()
