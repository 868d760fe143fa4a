"""The desk shows drafts approved by policy as such (a badge naming the policy) and filters to them, on
the page and in the API, within the brands the user may see."""
from __future__ import annotations

import pytest
from django.urls import reverse

from editorial.models import Draft
from governance.signoffs import signoff_record, signoffs_by_policy
from tests.campaign_helpers import MASTER, approve_master, campaign_world, variants_written
from tests.factories import PASSWORD
from tests.helpers import draft_in_review

POLICY = "“Standard review” low-risk auto-approval"
BADGE = 'class="pill policy"'


def titled(world, title: str) -> Draft:
    draft = draft_in_review(world)
    Draft.objects.filter(pk=draft.pk).update(title=title)
    draft.refresh_from_db()
    return draft


@pytest.fixture
def desk(world):
    world.workflow.policy_approval = True
    world.workflow.save()
    by_policy = titled(world, "Kettle by policy")
    signoffs_by_policy(draft=by_policy, quality_clean=True)
    by_person = titled(world, "Grinder by a person")
    signoff_record(draft=by_person, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=by_person.current_revision_id)
    titled(world, "Scale waiting")
    world.by_policy, world.by_person = by_policy, by_person
    return world


def queue_html(client, world, who: str, query: str = "") -> str:
    assert client.login(username=getattr(world, who).username, password=PASSWORD)
    response = client.get(reverse("editorial:queue") + "?tab=all" + query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("who", ["editor", "brand_reviewer"])
def test_the_queue_marks_only_the_draft_approved_by_policy_with_the_policy_in_its_tooltip(client, desk, who):
    html = queue_html(client, desk, who)
    assert "Kettle by policy" in html and "Grinder by a person" in html and "Scale waiting" in html
    assert html.count(BADGE) == 1
    assert f'title="Approved by policy {POLICY}: no person signed it">Approved by policy' in html
    assert f'<span class="sr-only">: {POLICY}</span>' in html  # the name is read out, not only shown on hover


def test_the_queue_filters_to_drafts_approved_by_policy(client, desk):
    html = queue_html(client, desk, "editor", "&approved_by=policy")
    assert "Kettle by policy" in html
    assert "Grinder by a person" not in html and "Scale waiting" not in html
    assert '<option value="policy" selected>Approved by policy</option>' in html


def test_an_unknown_approval_filter_is_ignored_with_a_note(client, desk):
    html = queue_html(client, desk, "editor", "&approved_by=robot")
    assert "Ignored the unknown approval filter “robot”." in html
    assert "Grinder by a person" in html


def test_an_outsider_sees_nothing_of_another_brand_through_the_filter(client, desk):
    html = queue_html(client, desk, "outsider", "&approved_by=policy")
    assert "Kettle by policy" not in html and BADGE not in html


def test_the_queue_api_filters_to_drafts_approved_by_policy_and_names_the_policy(client, desk):
    assert client.login(username=desk.editor.username, password=PASSWORD)
    items = client.get("/api/v1/queue?approved_by=policy").json()["items"]
    assert [(i["id"], i["approved_by_policy"]) for i in items] == [(desk.by_policy.pk, POLICY)]
    every = {i["id"]: i["approved_by_policy"] for i in client.get("/api/v1/queue").json()["items"]}
    assert every[desk.by_person.pk] is None and every[desk.by_policy.pk] == POLICY and len(every) == 3
    assert client.get("/api/v1/queue?approved_by=person").status_code == 422
    assert client.post("/api/v1/queue?approved_by=policy").status_code == 405
    assert client.get(f"/api/v1/drafts/{desk.by_policy.pk}").json()["approved_by_policy"] == POLICY
    assert client.get(f"/api/v1/drafts/{desk.by_person.pk}").json()["approved_by_policy"] is None


def test_the_queue_api_gives_an_outsider_nothing(client, desk):
    assert client.login(username=desk.outsider.username, password=PASSWORD)
    assert client.get("/api/v1/queue?approved_by=policy").json()["items"] == []
    assert client.get(f"/api/v1/drafts/{desk.by_policy.pk}").status_code == 404


# --- elsewhere on the desk: the campaign grid and the batch page ---------------------------------

def test_the_campaign_grid_marks_a_variant_approved_by_policy(world, as_user):
    world.workflow.policy_approval = True
    world.workflow.save()
    cw = campaign_world(world, mode="parallel")
    approve_master(cw)
    written = {v.segment.name: v for v in variants_written(cw, {"Students": MASTER, "Families": MASTER})}
    students = written["Students"].draft
    students.refresh_from_db()
    assert students.status == Draft.Status.IN_REVIEW, students.status
    signoffs_by_policy(draft=students, quality_clean=True)
    students.refresh_from_db()
    assert students.status == Draft.Status.APPROVED
    html = as_user("brand_reviewer").get(reverse("campaigns:detail", args=[cw.campaign.pk])).content.decode()
    assert html.count(BADGE) == 1 and f"Approved by policy {POLICY}" in html
