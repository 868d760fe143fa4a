"""Bad input on the desk's routes: empty and oversized edits, stale forms, double submits, restoring a
revision of another draft, and actions on items the person may not touch. Each gets a clear message
and changes nothing (no revision, no sign-off, no assignee, no audit event)."""
from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from editorial.editing import MAX_CONTENT_CHARS, draft_edit
from editorial.models import Draft, Revision
from governance.models import AuditEvent, Gate, SignOff
from tests.factories import PASSWORD
from tests.helpers import draft_in_review

TEXT = "## Part 1\n\nOur autumn roast is back."


@pytest.fixture
def draft(world) -> Draft:
    return draft_in_review(world, content=TEXT)


def snapshot(draft: Draft) -> tuple:
    """Everything a refused desk action must leave as it was."""
    draft.refresh_from_db()
    return (Revision.objects.filter(draft=draft).count(), draft.current_revision_id, draft.status, draft.assignee_id,
            SignOff.objects.filter(draft=draft).count(), AuditEvent.objects.count())


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def edit_url(draft: Draft) -> str:
    return reverse("editorial:draft-edit", args=[draft.pk])


# --- edits ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", ["", "  \n\t  "])
def test_an_empty_edit_is_refused_with_a_message(as_user, draft, content):
    before = snapshot(draft)
    response = as_user("editor").post(edit_url(draft), {"content": content, "base_revision": draft.current_revision_id})
    assert response.status_code == 422
    assert "The text is empty; nothing was saved." in text_of(response)
    assert snapshot(draft) == before


def test_an_oversized_edit_is_refused_naming_the_limit(as_user, draft):
    before = snapshot(draft)
    content = "x" * (MAX_CONTENT_CHARS + 1)
    response = as_user("editor").post(edit_url(draft), {"content": content, "base_revision": draft.current_revision_id})
    assert response.status_code == 422
    assert "The text has 200,001 characters, more than the 200,000 a revision may have; nothing was saved." in \
        text_of(response)
    assert snapshot(draft) == before


def test_the_editor_says_the_limit_and_does_not_cut_pasted_text(as_user, draft):
    body = text_of(as_user("editor").get(edit_url(draft)))
    assert "Up to 200,000 characters." in body
    assert 'aria-describedby="id_content_help"' in body
    assert not re.search(r'<textarea[^>]*maxlength', body)


def test_an_edit_with_a_base_that_is_not_a_number_is_refused(as_user, draft):
    before = snapshot(draft)
    response = as_user("editor").post(edit_url(draft), {"content": "Mine.", "base_revision": "latest"})
    assert response.status_code == 422
    assert snapshot(draft) == before


def test_a_stale_form_gets_the_conflict_view_with_the_text_kept(as_user, world, draft):
    base = draft.current_revision_id
    draft_edit(draft=draft, user=world.editor, content=TEXT + "\n\nSomeone else's line.", base_revision_id=base)
    before = snapshot(draft)
    response = as_user("editor").post(edit_url(draft), {"content": "My own version.", "base_revision": base})
    assert response.status_code == 409
    body = text_of(response)
    assert "Someone saved revision 2 while you were editing" in body
    assert "My own version.</textarea>" in body  # the person's text, kept
    assert f'name="base_revision" value="{draft.current_revision_id}"' in body  # saving again means merged
    assert "<ins>Someone else&#x27;s line.</ins>" in body or "Someone else" in body
    assert snapshot(draft) == before


def test_submitting_the_same_edit_twice_saves_one_revision(as_user, draft):
    base = draft.current_revision_id
    client = as_user("editor")
    form = {"content": TEXT + "\n\nA new closing line.", "base_revision": base, "note": "closing line"}
    first = client.post(edit_url(draft), form)
    assert first.status_code == 302
    before = snapshot(draft)
    second = client.post(edit_url(draft), form, follow=True)
    assert second.redirect_chain == [(reverse("editorial:draft", args=[draft.pk]), 302)]
    assert '<li class="msg edit-saved info">This text was already saved as revision 2; nothing more was saved.</li>' \
        in text_of(second)  # the tag lets the page drop the copy of the text kept in the browser
    assert snapshot(draft) == before
    assert draft.revisions.count() == 2


def test_the_same_edit_twice_through_the_api_is_a_conflict_naming_the_saved_revision(client, world, draft):
    assert client.login(username="eddie", password=PASSWORD)
    body = {"content": TEXT + "\n\nOnce.", "base_revision": draft.current_revision_id}

    def send():
        return client.post(f"/api/v1/drafts/{draft.pk}/revisions", json.dumps(body), content_type="application/json")

    assert send().status_code == 201
    before = snapshot(draft)
    again = send()
    assert again.status_code == 409
    assert again.json()["detail"] == "This text was already saved as revision 2; nothing more was saved."
    assert again.json()["current_revision"]["number"] == 2
    assert snapshot(draft) == before


def test_a_different_text_on_the_same_stale_base_is_still_a_conflict(as_user, draft):
    base = draft.current_revision_id
    client = as_user("editor")
    client.post(edit_url(draft), {"content": TEXT + "\n\nFirst.", "base_revision": base})
    before = snapshot(draft)
    response = client.post(edit_url(draft), {"content": TEXT + "\n\nSecond.", "base_revision": base})
    assert response.status_code == 409
    assert snapshot(draft) == before


# --- restore --------------------------------------------------------------------------------------

def restore_url(draft: Draft, revision_id: int) -> str:
    return reverse("editorial:revision-restore", args=[draft.pk, revision_id])


def test_restoring_a_revision_of_another_draft_is_a_400_with_the_reason(as_user, world, draft):
    other = draft_in_review(world, content="Another piece altogether.")
    draft_edit(draft=draft, user=world.editor, content=TEXT + "\n\nMore.", base_revision_id=draft.current_revision_id)
    before, other_before = snapshot(draft), snapshot(other)
    response = as_user("editor").post(restore_url(draft, other.current_revision_id))
    assert response.status_code == 400
    assert "That revision does not belong to this draft; nothing was restored." in text_of(response)
    assert snapshot(draft) == before and snapshot(other) == other_before
    assert not AuditEvent.objects.filter(action="editorial.revision.restore").exists()


def test_restoring_a_revision_that_does_not_exist_or_is_current_is_refused(as_user, draft):
    before = snapshot(draft)
    client = as_user("editor")
    response = client.post(restore_url(draft, 987654321))
    assert response.status_code == 400 and "does not belong to this draft" in text_of(response)
    response = client.post(restore_url(draft, draft.current_revision_id))
    assert response.status_code == 400
    assert "r1 is already the current revision; nothing was restored." in text_of(response)
    assert snapshot(draft) == before


# --- items the person may not touch -------------------------------------------------------------

def claim(client, draft):
    return client.post(reverse("editorial:draft-claim", args=[draft.pk]), follow=True)


def assign(client, draft):
    return client.post(reverse("editorial:draft-assign", args=[draft.pk]), {"assignee": "bree"}, follow=True)


def unassign(client, draft):
    return client.post(reverse("editorial:draft-unassign", args=[draft.pk]), follow=True)


def bulk(client, draft):
    return client.post(reverse("editorial:queue-bulk"),
                       {"ids": [draft.pk], "action": "approve", "confirm": "yes",
                        f"rev-{draft.pk}": draft.current_revision_id}, follow=True)


def restore(client, draft):
    return client.post(restore_url(draft, draft.revisions.get(number=1).pk), follow=True)


def edit(client, draft):
    return client.post(edit_url(draft), {"content": "Taken over.", "base_revision": draft.current_revision_id},
                       follow=True)


def gate(client, draft):
    editorial = Gate.objects.filter(stage__workflow_id=draft.workflow_id).order_by("stage__order", "id").first()
    return client.post(reverse("editorial:gate-action", args=[draft.pk, editorial.pk]),
                       {"decision": "approve", "revision": draft.current_revision_id}, follow=True)


ACTIONS = {"claim": claim, "assign": assign, "unassign": unassign, "bulk": bulk, "restore": restore, "edit": edit,
           "gate": gate}
# What a brand member without the right is told (the outsider, of another brand, gets 404 or "not found").
REFUSALS = {
    "claim": "Only members of this brand who edit or sign can claim it.",
    "assign": "Only members of this brand who edit or sign can assign it.",
    "unassign": "Only members of this brand who edit or sign can release it.",
    "bulk": "0 approved, 1 skipped: “Autumn roast” — none of its open gates is yours to sign",
    "restore": None,  # 403
    "edit": None,  # 403
    "gate": "You cannot sign the Editorial gate.",
}


@pytest.fixture
def touched(world, draft) -> Draft:
    """A draft with two revisions, claimed by the editor: something for every action to change."""
    draft_edit(draft=draft, user=world.editor, content=TEXT + "\n\nSecond revision.",
               base_revision_id=draft.current_revision_id)
    Draft.objects.filter(pk=draft.pk).update(assignee=world.editor)
    draft.refresh_from_db()
    return draft


@pytest.mark.parametrize("action", ACTIONS)
def test_a_brand_member_without_the_right_is_told_and_nothing_changes(as_user, touched, action):
    before = snapshot(touched)
    response = ACTIONS[action](as_user("requester"), touched)
    if REFUSALS[action] is None:
        assert response.status_code == 403
    else:
        assert response.status_code == 200  # back where they were, with the reason
        assert REFUSALS[action] in text_of(response)
    assert snapshot(touched) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_someone_of_another_brand_learns_nothing_and_changes_nothing(as_user, touched, action):
    before = snapshot(touched)
    response = ACTIONS[action](as_user("outsider"), touched)
    if action == "bulk":
        assert f"0 approved, 1 skipped: #{touched.pk} — not found" in text_of(response)
        assert "Autumn roast" not in text_of(response)
    else:
        assert response.status_code == 404
    assert snapshot(touched) == before


def test_signing_with_a_stale_revision_is_refused_with_the_reason(as_user, world, draft):
    old = draft.current_revision_id
    draft_edit(draft=draft, user=world.editor, content=TEXT + "\n\nNewer.", base_revision_id=old)
    before = snapshot(draft)
    response = as_user("editor").post(
        reverse("editorial:gate-action", args=[draft.pk, world.gates["editorial"].pk]),
        {"decision": "approve", "revision": old}, follow=True)
    assert "The draft changed since you opened it; review the latest revision and sign again." in text_of(response)
    assert snapshot(draft) == before


def test_a_gate_of_another_workflow_is_not_found(as_user, world, draft):
    before = snapshot(draft)
    response = as_user("editor").post(reverse("editorial:gate-action", args=[draft.pk, 987654]),
                                      {"decision": "approve", "revision": draft.current_revision_id})
    assert response.status_code == 404
    assert snapshot(draft) == before
