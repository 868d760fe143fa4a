"""The Insights page and the version comparison: who may see them, what they show, bad input."""
from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from agents.models import ModelVersion
from editorial.insights.facts import facts_refresh
from tests.factories import PASSWORD, UserFactory
from tests.insights_history import seed_history

pytestmark = pytest.mark.django_db
PERIOD = {"start": "2026-11-01", "end": "2026-11-30"}


@pytest.fixture
def history(world):
    seeded = seed_history(world)
    facts_refresh(everything=True)
    return seeded


def chart_data(response) -> dict:
    found = re.search(r'<script id="insights-data" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    return json.loads(found.group(1))


def test_an_editor_sees_the_figures_of_their_brand_with_charts_and_tables(as_user, history):
    response = as_user("editor").get(reverse("insights:page"), PERIOD)
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["result"]["summary"]["drafts"] == 3
    assert "$0.6000" in html  # cost per published piece
    assert "50.0%" in html  # edit rate
    assert html.count("<canvas") == 7 and 'src="/static/vendor/chartjs/chart.umd.min.js"' in html
    assert "<script>" not in html and " onclick=" not in html  # strict CSP: data only through json_script
    assert [r["drafts"] for r in chart_data(response)["series"]] == [1, 2]
    assert "Too salesy" not in html and "too salesy" in html  # reasons grouped
    assert "within ±2% of the exact figure" in html  # the percentiles' histogram error, in the footnote


def test_the_nav_links_to_insights_for_editors_only(as_user, history):
    insights = reverse("insights:page")
    assert f'href="{insights}"' in as_user("editor").get(reverse("editorial:queue")).content.decode()
    assert f'href="{insights}"' not in as_user("brand_reviewer").get(reverse("editorial:queue")).content.decode()


def test_an_outsider_sees_no_other_brands_figures(as_user, history):
    client = as_user("outsider")
    response = client.get(reverse("insights:page"), PERIOD)
    assert response.status_code == 200
    assert response.context["result"]["summary"]["drafts"] == 0
    assert chart_data(response)["series"] == []
    refused = client.get(reverse("insights:page"), {**PERIOD, "brand": "northwind"})
    assert refused.status_code == 400 and "result" not in refused.context
    assert "not yours" in refused.content.decode()
    compare = client.get(reverse("insights:compare"), {**PERIOD, "dimension": "model_version",
                                                       "a": history.other_model.pk,
                                                       "b": history.drafts[0].model_version_id})
    assert compare.status_code == 200
    assert all(row.n_a == 0 and row.n_b == 0 for row in compare.context["rows"])


def test_a_reviewer_without_an_editing_role_is_refused(as_user, history):
    assert as_user("brand_reviewer").get(reverse("insights:page")).status_code == 403
    assert as_user("brand_reviewer").get(reverse("insights:compare")).status_code == 403


def test_a_brand_lead_with_the_insights_permission_sees_their_brand(client, world, history):
    lead = UserFactory(username="lee")
    lead.user_permissions.add(Permission.objects.get(codename="view_insights"))
    from governance.permissions import brand_member_add
    brand_member_add(brand=world.brand, user=lead)
    client.login(username="lee", password=PASSWORD)
    response = client.get(reverse("insights:page"), PERIOD)
    assert response.status_code == 200 and response.context["result"]["summary"]["drafts"] == 3


def test_a_wrong_method_is_refused(as_user, history):
    assert as_user("editor").post(reverse("insights:page")).status_code == 405
    assert as_user("editor").post(reverse("insights:compare")).status_code == 405


def test_filters_narrow_the_figures_and_htmx_gets_the_body_alone(as_user, history):
    client = as_user("editor")
    response = client.get(reverse("insights:page"), {**PERIOD, "model_version": history.other_model.pk,
                                                      "interval": "week", "by": "channel"},
                          HTTP_HX_REQUEST="true", HTTP_HX_TARGET="insights-body")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div id="insights-body"')
    assert [(r["period"], r["drafts"]) for r in chart_data(response)["series"]] == [("2026-11-02", 1)]
    assert "<nav" not in html and "Blog" in html  # the breakdown by channel


def test_bad_filters_say_what_is_wrong(as_user, history):
    client = as_user("editor")
    response = client.get(reverse("insights:page"), {"start": "2026-12-01", "end": "2026-11-01"})
    assert response.status_code == 400 and "The end date is before the start date." in response.content.decode()
    response = client.get(reverse("insights:page"), {"start": "yesterday", "model_version": "999999"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid date." in html and "does not exist" in html


def test_comparing_two_versions_shows_every_metric_and_calls_few_drafts_not_significant(as_user, history, world):
    response = as_user("editor").get(reverse("insights:compare"), {
        **PERIOD, "dimension": "model_version", "a": world.model_version.pk, "b": history.other_model.pk})
    assert response.status_code == 200
    rows = {row.metric.key: row for row in response.context["rows"]}
    assert len(rows) == 27  # 22 from the desk, 5 experiment outcomes
    assert rows["rejection_rate"].a == 0.0 and rows["rejection_rate"].b == 1.0
    assert rows["rejection_rate"].n_a == 2 and rows["rejection_rate"].n_b == 1
    assert not any(row.significant for row in rows.values())
    assert "too few drafts to tell (n = 2 and 1" in response.content.decode()


def test_the_comparison_links_admins_to_the_rollback_impact(client, world, history):
    admin = UserFactory(username="ada", is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.get(reverse("insights:compare"), {
        **PERIOD, "dimension": "model_version", "a": world.model_version.pk, "b": history.other_model.pk})
    impact = reverse("admin:agents_modelversion_impact", args=[history.other_model.pk])
    assert f'href="{impact}"' in response.content.decode()
    prompt = world.template.active_version
    other = ModelVersion.objects.count()  # any second prompt version: make one
    assert other >= 2
    v2 = type(prompt).objects.create(template=world.template, number=2, section_prompt="x")
    response = client.get(reverse("insights:compare"), {**PERIOD, "dimension": "prompt_version",
                                                         "a": prompt.pk, "b": v2.pk})
    impact = reverse("admin:agents_prompttemplate_impact", args=[world.template.pk, v2.pk])
    assert f'href="{impact}"' in response.content.decode()


def test_comparing_a_version_with_itself_or_a_missing_one_is_refused(as_user, history, world):
    client = as_user("editor")
    same = client.get(reverse("insights:compare"), {"dimension": "model_version", "a": world.model_version.pk,
                                                    "b": world.model_version.pk})
    assert same.status_code == 400 and "Choose two different versions." in same.content.decode()
    missing = client.get(reverse("insights:compare"), {"dimension": "prompt_version", "a": 1, "b": 999999})
    assert missing.status_code == 400 and "No such version." in missing.content.decode()


@pytest.mark.parametrize("params", [
    {"model_version": "99999999999999999999999"}, {"prompt_version": "-1"}, {"template": "x" * 500},
    {"start": "2026-02-30"}, {"end": "99999-01-01"}, {"interval": "hour"}, {"by": "colour"}, {"channel": "\x00"},
    {"start": "2000-01-01", "end": "2026-01-01"},
])
def test_nonsense_filters_are_a_400_never_a_500(as_user, history, params):
    assert as_user("editor").get(reverse("insights:page"), params).status_code == 400


@pytest.mark.parametrize("params", [
    {"a": "99999999999999999999999", "b": "1", "dimension": "model_version"}, {"a": "x", "b": "1"},
    {"dimension": "brand", "a": "1", "b": "2"}, {},
])
def test_a_nonsense_comparison_is_a_400_never_a_500(as_user, history, params):
    assert as_user("editor").get(reverse("insights:compare"), params).status_code == 400
