"""The API's OpenAPI schema documents its errors as they are sent, and ids in bodies are strict integers."""
from __future__ import annotations

import json

import pytest

from aios.api import api
from editorial.models import Revision
from tests.factories import PASSWORD
from tests.helpers import draft_in_review
from tests.test_api_errors import assert_problem


@pytest.fixture
def schema():
    return api.get_openapi_schema()


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_error_answer_is_documented_as_problem_json(schema):
    for path, method, operation in _operations(schema):
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (method, path, code)
                documented = response["content"]["application/problem+json"]["schema"]
                refs = [documented["$ref"]] if "$ref" in documented else [s["$ref"] for s in documented["anyOf"]]
                assert "#/components/schemas/ErrorOut" in refs, (method, path, code)  # the plain problem, always
                for ref in refs:
                    problem = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
                    assert {"type", "title", "status", "detail"} <= set(problem), (method, path, code, ref)


def test_every_route_documents_401_403_429_and_422_when_it_takes_input(schema):
    for path, method, operation in _operations(schema):
        codes = {int(c) for c in operation["responses"]}
        assert {401, 403, 429} <= codes, (method, path)
        if operation.get("parameters") or "requestBody" in operation:
            assert 422 in codes, (method, path)
        if "{" in path:
            assert 404 in codes, (method, path)


def test_every_post_documents_400_409_413_for_its_body_and_idempotency_key(schema):
    posts = [(path, op) for path, method, op in _operations(schema) if method == "post"]
    assert len(posts) >= 10
    for path, operation in posts:
        assert {400, 409, 413, 422} <= {int(c) for c in operation["responses"]}, path


def test_the_schema_served_to_clients_is_the_documented_one(client, world):
    served = client.get("/api/v1/openapi.json").json()
    post = served["paths"]["/api/v1/briefs"]["post"]["responses"]
    assert "application/problem+json" in post["400"]["content"] and "422" in post


@pytest.fixture
def eddie(client, world):
    assert client.login(username=world.editor.username, password=PASSWORD)
    return client


@pytest.mark.parametrize("not_an_id", [True, False, 1.0, "1", [1]])
def test_true_is_not_a_revision_id(eddie, world, not_an_id):
    draft = draft_in_review(world)
    revision = draft.current_revision
    if not_an_id == 1.0 or not_an_id == "1":
        not_an_id = type(not_an_id)(revision.pk)
    before = Revision.objects.count()
    response = eddie.post(f"/api/v1/drafts/{draft.pk}/revisions",
                          data=json.dumps({"content": "## Part 1\n\nNew words.", "base_revision": not_an_id}),
                          content_type="application/json")
    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["body.base_revision"]
    assert Revision.objects.count() == before


def test_a_json_integer_revision_id_is_still_accepted(eddie, world):
    draft = draft_in_review(world)
    response = eddie.post(f"/api/v1/drafts/{draft.pk}/revisions",
                          data=json.dumps({"content": "## Part 1\n\nNew words.", "base_revision": draft.current_revision_id}),
                          content_type="application/json")
    assert response.status_code == 201, response.content


def test_true_is_not_a_section_index_or_a_source(eddie, world):
    draft = draft_in_review(world)
    response = eddie.post(f"/api/v1/drafts/{draft.pk}/proposals",
                          data=json.dumps({"section_index": True, "instruction": "shorter"}),
                          content_type="application/json")
    assert assert_problem(response, 422)["errors"][0]["field"] == "body.section_index"
    response = eddie.post("/api/v1/briefs", content_type="application/json", data=json.dumps({
        "brand": world.brand.slug, "title": "T", "goal": "G", "audience": "A", "channel": "blog",
        "template": world.template.slug, "sources": [True]}))
    assert assert_problem(response, 422)["errors"][0]["field"].startswith("body.sources")


def test_path_ids_still_parse_from_the_url(eddie, world):
    draft = draft_in_review(world)
    assert eddie.get(f"/api/v1/drafts/{draft.pk}/proposals").status_code == 200
    assert eddie.get(f"/api/v1/drafts/{draft.pk}/outline").status_code in (200, 404)
