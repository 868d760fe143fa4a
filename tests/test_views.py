from __future__ import annotations

import pytest
from django.urls import reverse

from editorial.models import Brief, Draft, Revision
from governance.models import SignOff
from tests.helpers import draft_in_review


READ_ROUTES = ["editorial:draft", "editorial:draft-live", "editorial:draft-edit"]


@pytest.mark.parametrize("route", READ_ROUTES)
def test_an_outsider_cannot_see_a_draft_or_learn_it_exists(as_user, world, route):
    draft = draft_in_review(world)
    response = as_user("outsider").get(reverse(route, args=[draft.pk]))
    assert response.status_code == 404


def test_the_queue_shows_only_drafts_of_the_users_brands(as_user, world):
    draft = draft_in_review(world)
    assert draft.title in as_user("editor").get(reverse("editorial:queue")).content.decode()
    assert draft.title not in as_user("outsider").get(reverse("editorial:queue")).content.decode()


def test_anonymous_visitors_are_sent_to_login(client, world):
    draft = draft_in_review(world)
    response = client.get(reverse("editorial:draft", args=[draft.pk]))
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_the_owner_and_reviewers_see_the_draft_with_their_own_buttons(as_user, world):
    draft = draft_in_review(world, risk="high")
    page = as_user("requester").get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert "Hello coffee lovers." in page and "data-gate-approve" not in page
    page = as_user("editor").get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert page.count("data-gate-approve") == 1  # editorial only; brand and legal wait
    assert "risk high ≥ high" in page


def test_the_requester_cannot_open_the_editor(as_user, world):
    draft = draft_in_review(world)
    assert as_user("requester").get(reverse("editorial:draft-edit", args=[draft.pk])).status_code == 403


def test_editing_in_the_browser_saves_a_revision_and_a_conflict_keeps_the_text(as_user, world):
    draft = draft_in_review(world)
    client = as_user("editor")
    url = reverse("editorial:draft-edit", args=[draft.pk])
    base = draft.current_revision_id
    assert client.post(url, {"content": "Edited once.", "base_revision": base}).status_code == 302
    response = client.post(url, {"content": "My unsaved words.", "base_revision": base})
    assert response.status_code == 409
    body = response.content.decode()
    assert "My unsaved words." in body and "while you were editing" in body
    assert Revision.objects.filter(draft=draft).count() == 2


def test_an_empty_edit_shows_an_error_and_saves_nothing(as_user, world):
    draft = draft_in_review(world)
    response = as_user("editor").post(reverse("editorial:draft-edit", args=[draft.pk]),
                                      {"content": "  ", "base_revision": draft.current_revision_id})
    assert response.status_code == 422 and "The text is empty; nothing was saved." in response.content.decode()
    assert draft.revisions.count() == 1


@pytest.mark.parametrize("route", ["editorial:publish", "editorial:retry"])
def test_action_routes_refuse_get(as_user, world, route):
    draft = draft_in_review(world)
    assert as_user("editor").get(reverse(route, args=[draft.pk])).status_code == 405


def test_gate_route_refuses_get_and_outsiders(as_user, world):
    draft = draft_in_review(world)
    url = reverse("editorial:gate-action", args=[draft.pk, world.gates["editorial"].pk])
    assert as_user("editor").get(url).status_code == 405
    response = as_user("outsider").post(url, {"decision": "approve", "revision": draft.current_revision_id})
    assert response.status_code == 404
    assert not SignOff.objects.exists()


def test_an_editor_approves_in_the_browser_and_cannot_sign_legal(as_user, world):
    draft = draft_in_review(world, risk="high")
    client = as_user("editor")
    ok = client.post(reverse("editorial:gate-action", args=[draft.pk, world.gates["editorial"].pk]),
                     {"decision": "approve", "revision": draft.current_revision_id}, follow=True)
    assert "Editorial: approve recorded." in ok.content.decode()
    refused = client.post(reverse("editorial:gate-action", args=[draft.pk, world.gates["legal"].pk]),
                          {"decision": "approve", "revision": draft.current_revision_id}, follow=True)
    assert "You cannot sign the Legal gate." in refused.content.decode()
    assert list(SignOff.objects.values_list("gate__slug", flat=True)) == ["editorial"]


def test_publishing_before_approval_is_refused_with_a_message(as_user, world):
    draft = draft_in_review(world)
    response = as_user("editor").post(reverse("editorial:publish", args=[draft.pk]), follow=True)
    assert "required gates are all signed" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW


def test_a_brief_form_with_errors_keeps_what_was_typed(as_user, world):
    response = as_user("requester").post(reverse("editorial:brief-new"), {
        "brand": world.brand.pk, "title": "Keep me", "goal": "", "audience": "coffee lovers",
        "channel": "blog", "tone": "warm", "risk": "low", "template": world.template.pk,
    })
    body = response.content.decode()
    assert response.status_code == 422 and "This field is required" in body and 'value="Keep me"' in body
    assert not Brief.objects.exists()


def test_a_brief_for_another_brand_is_refused(as_user, world):
    response = as_user("requester").post(reverse("editorial:brief-new"), {
        "brand": world.other_brand.pk, "title": "Sneaky", "goal": "x", "audience": "y",
        "channel": "blog", "tone": "warm", "risk": "low", "template": world.template.pk,
    })
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()
    assert not Brief.objects.exists()


def test_filing_a_brief_creates_a_generating_draft(as_user, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = as_user("requester").post(reverse("editorial:brief-new"), {
            "brand": world.brand.pk, "title": "Autumn", "goal": "Announce", "audience": "fans",
            "channel": "blog", "tone": "warm", "risk": "medium", "template": world.template.pk,
        })
    draft = Draft.objects.get()
    assert response.status_code == 302 and response.url == reverse("editorial:draft", args=[draft.pk])
    assert draft.status == Draft.Status.GENERATING and draft.workflow == world.workflow
    assert draft.runs.get().kind == "plan" and len(callbacks) == 1  # the plan task is enqueued on commit


def test_a_diff_between_revisions_of_another_draft_is_refused(as_user, world):
    a, b = draft_in_review(world), draft_in_review(world)
    url = reverse("editorial:draft-diff", args=[a.pk])
    response = as_user("editor").get(url, {"a": a.current_revision_id, "b": b.current_revision_id})
    assert response.status_code == 404
