"""GET /api/v1/metrics: scoped by token and brand, JSON or CSV, problems for bad input."""
from __future__ import annotations

import csv
import io

import pytest

from editorial.insights.facts import facts_refresh
from governance.tokens import token_create
from tests.insights_history import seed_history

pytestmark = pytest.mark.django_db
URL = "/api/v1/metrics"
PERIOD = {"start": "2026-11-01", "end": "2026-11-30"}


@pytest.fixture
def history(world):
    seeded = seed_history(world)
    facts_refresh(everything=True)
    return seeded


def bearer(user, scopes=("read",)) -> dict:
    _, raw = token_create(user=user, name="metrics", scopes=list(scopes), expires_in_days=1, created_by=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_a_token_gets_its_brands_figures_as_json(client, world, history):
    response = client.get(URL, {**PERIOD, "by": "model_version"}, **bearer(world.editor))
    assert response.status_code == 200
    body = response.json()
    assert body["filters"]["brands"] == ["northwind"]
    assert body["summary"]["drafts"] == 3 and body["summary"]["cost_per_published"] == pytest.approx(0.6)
    assert {r["label"]: r["drafts"] for r in body["breakdown"]} == {"Settings model": 2, "Challenger": 1}
    assert {g["gate"] for g in body["gates"]} == {"Editorial", "Brand"}


def test_csv_is_answered_to_accept_text_csv(client, world, history):
    response = client.get(URL, {**PERIOD, "interval": "week"}, HTTP_ACCEPT="text/csv", **bearer(world.editor))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["period"], r["drafts"], r["edit_rate"]) for r in rows] == [("2026-11-02", "3", "0.5")]
    breakdown = client.get(URL, {**PERIOD, "table": "breakdown", "by": "brand"}, HTTP_ACCEPT="text/csv",
                           **bearer(world.editor))
    rows = list(csv.DictReader(io.StringIO(breakdown.content.decode())))
    assert [(r["label"], r["drafts"]) for r in rows] == [("Northwind", "3")]


def test_an_outsiders_token_sees_no_other_brands_figures(client, world, history):
    own = client.get(URL, PERIOD, **bearer(world.outsider))
    assert own.status_code == 200 and own.json()["summary"]["drafts"] == 0 and own.json()["series"] == []
    foreign = client.get(URL, {**PERIOD, "brand": "northwind"}, **bearer(world.outsider))
    assert foreign.status_code == 422 and foreign["Content-Type"] == "application/problem+json"
    assert foreign.json()["errors"][0]["field"] == "brand"


def test_a_reviewer_without_an_editing_role_and_a_token_without_read_are_refused(client, world, history):
    reviewer = client.get(URL, PERIOD, **bearer(world.brand_reviewer))
    assert reviewer.status_code == 403 and reviewer.json()["code"] == "forbidden"
    scopeless = client.get(URL, PERIOD, **bearer(world.editor, scopes=("write",)))
    assert scopeless.status_code == 403 and "read" in scopeless.json()["detail"]
    assert client.get(URL).status_code == 401


def test_bad_parameters_are_problems_naming_the_field(client, world, history):
    auth = bearer(world.editor)
    wrong_order = client.get(URL, {"start": "2026-12-01", "end": "2026-11-01"}, **auth)
    assert wrong_order.status_code == 422 and "end date is before" in wrong_order.json()["detail"]
    bad_slice = client.get(URL, {"by": "colour"}, **auth)
    assert bad_slice.status_code == 422 and bad_slice["Content-Type"] == "application/problem+json"
    assert client.post(URL, **auth).status_code == 405


@pytest.mark.parametrize("params", [
    {"model_version": "99999999999999999999999"}, {"prompt_version": "-1"}, {"template": "x" * 500},
    {"start": "2026-02-30"}, {"channel": "\x00"}, {"start": "2000-01-01", "end": "2026-01-01"},
])
def test_nonsense_parameters_are_422_problems(client, world, history, params):
    response = client.get(URL, params, **bearer(world.editor))
    assert response.status_code == 422 and response["Content-Type"] == "application/problem+json"
