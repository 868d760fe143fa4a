from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from editorial.editing import EditConflict, draft_edit
from editorial.models import Revision
from tests.helpers import draft_in_review


def test_an_edit_is_a_new_revision_by_that_person_and_the_old_one_is_kept(world):
    draft = draft_in_review(world, content="Old text.")
    first = draft.current_revision
    revision = draft_edit(draft=draft, user=world.editor, content="New text.", base_revision_id=first.pk)
    assert (revision.number, revision.parent_id, revision.author_user) == (2, first.pk, world.editor)
    first.refresh_from_db()
    assert first.content == "Old text."
    draft.refresh_from_db()
    assert draft.current_revision == revision


def test_an_edit_based_on_an_older_revision_is_a_conflict_and_saves_nothing(world):
    draft = draft_in_review(world)
    base = draft.current_revision_id
    draft_edit(draft=draft, user=world.editor, content="Someone else's text.", base_revision_id=base)
    with pytest.raises(EditConflict) as caught:
        draft_edit(draft=draft, user=world.editor, content="My text.", base_revision_id=base)
    assert caught.value.current.content == "Someone else's text."
    assert Revision.objects.filter(draft=draft).count() == 2


@pytest.mark.parametrize("content", ["", "   \n  ", "x" * 200_001])
def test_empty_or_oversized_edits_are_refused(world, content):
    draft = draft_in_review(world)
    with pytest.raises(ValidationError):
        draft_edit(draft=draft, user=world.editor, content=content, base_revision_id=draft.current_revision_id)
    assert draft.revisions.count() == 1


def test_a_requester_cannot_edit(world):
    draft = draft_in_review(world)
    with pytest.raises(PermissionDenied):
        draft_edit(draft=draft, user=world.requester, content="Mine now", base_revision_id=draft.current_revision_id)


def test_revisions_cannot_be_overwritten(world):
    revision = draft_in_review(world).current_revision
    revision.content = "tampered"
    with pytest.raises(ValueError, match="immutable"):
        revision.save()


def test_a_persons_edit_is_policy_checked_like_the_models(world):
    draft = draft_in_review(world)
    revision = draft_edit(draft=draft, user=world.editor, content="Freshness guaranteed.",
                          base_revision_id=draft.current_revision_id)
    assert [(f.category, f.text) for f in revision.findings.all()] == [("banned_term", "guaranteed")]
