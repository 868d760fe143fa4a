"""The draft desk: diffs between any two revisions, the revision timeline, restoring an earlier
revision, and what the draft and edit pages give the browser scripts."""
from __future__ import annotations

import random
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from editorial.diffs import chunks, fold, section_changes, word_diff
from editorial.editing import draft_edit, revision_restore
from editorial.models import Draft, Revision
from governance.models import AuditEvent
from governance.signoffs import signoff_record
from tests.helpers import draft_in_review

R1 = "## Intro\n\nOur autumn roast is back.\n\n## Taste\n\nNotes of cherry and cocoa.\n\n## Price\n\nTwelve euros."
R2 = "## Intro\n\nOur autumn roast is finally back.\n\n## Taste\n\nNotes of cherry and cocoa.\n\n## Price\n\nTwelve euros."
R3 = "## Intro\n\nOur autumn roast is finally back.\n\n## Taste\n\nNotes of plum.\n\n## Where\n\nIn every shop."


def three_revisions(world) -> tuple[Draft, list[Revision]]:
    draft = draft_in_review(world, content=R1)
    for text in (R2, R3):
        draft_edit(draft=draft, user=world.editor, content=text, base_revision_id=draft.current_revision_id)
        draft.refresh_from_db()
    return draft, list(draft.revisions.order_by("number"))


def long_text(lines: int) -> str:
    return "\n\n".join(f"Paragraph {i} says something calm about coffee." for i in range(lines))


# --- the diff model -----------------------------------------------------------------------------

def test_the_summary_counts_words_and_the_sections_that_differ_were_added_or_removed():
    diff = word_diff(R1, R3)
    assert (diff.words_added, diff.words_removed) == (6, 6)  # finally, plum, Where In every shop | cherry and cocoa, Price Twelve euros
    # Intro and Taste differ; Price was renamed to Where (one changed section), nothing added or removed
    assert (diff.sections_changed, diff.sections_added, diff.sections_removed) == (3, 0, 0)
    changes = section_changes("Lead.\n## A\n\nx\n## B\n\ny", "## A\n\nx\n## B\n\ny\n## C\n\nz\n## D\n\nw")
    assert (changes.changed, changes.added, changes.removed) == (3, 2, 1)  # the lead went, C and D came
    assert section_changes("## A\n\nx\n### Sub\n\ny", "## A\n\nx\n### Sub\n\ny2").changed == 1  # ### is inside A


def test_identical_revisions_have_no_changes_and_no_changed_sections():
    diff = word_diff(R1, R1)
    assert not diff.has_changes and diff.sections_changed == 0
    assert all(not chunk.changed for block in diff.blocks for chunk in block.chunks)


def test_side_by_side_rows_pair_a_removed_line_with_nothing_and_keep_shared_lines_together():
    rows = [row for chunk in chunks(word_diff("Gone.\nKept.\n", "Kept.\n").ops) for row in chunk.rows]
    as_text = [("".join(o.text for o in r.left) if r.left is not None else None,
                "".join(o.text for o in r.right) if r.right is not None else None) for r in rows]
    assert as_text == [("Gone.", None), ("Kept.", "Kept.")]
    assert [(r.left_no, r.right_no) for r in rows] == [(1, None), (2, 1)]


def test_long_unchanged_stretches_fold_to_their_first_and_last_two_lines():
    old = long_text(12) + "\n\nThe end."
    new = long_text(12) + "\n\nThe real end."
    blocks = word_diff(old, new).blocks
    assert [b.folded for b in blocks] == [False, True, False]
    folded = blocks[1]
    assert folded.hidden_lines == 8  # 12 unchanged paragraphs, 2 kept at each end
    head = [c for c in blocks[0].chunks if not c.blank]
    assert [c.ops[0].text for c in head] == ["Paragraph 0 says something calm about coffee.",
                                            "Paragraph 1 says something calm about coffee."]
    assert not any(c.changed for c in folded.chunks)
    # a short unchanged stretch is left alone
    assert not any(b.folded for b in fold(chunks(word_diff(long_text(4) + "\n\nA", long_text(4) + "\n\nB").ops)))


def test_a_long_diff_is_compared_paragraph_by_paragraph_and_stays_exact():
    rng = random.Random(5)
    words = ["coffee", "roast", "autumn", "bean", "cup", "brew", "warm", "notes", "cherry", "the", "of", "and"]
    paragraphs = [" ".join(rng.choice(words) for _ in range(rng.randint(40, 90))) + "." for _ in range(160)]
    old = "\n\n".join(paragraphs)
    assert len(old.split()) > 10_000
    edited = list(paragraphs)
    for i in range(0, 160, 4):  # one changed word and one added word in every fourth paragraph
        tokens = edited[i].split(" ")
        tokens[3], tokens[10] = "RENAMED", tokens[10] + " ADDED"
        edited[i] = " ".join(tokens)
    new = "\n\n".join(edited)
    diff = word_diff(old, new)
    assert "".join(op.text for op in diff.ops if op.op != "insert") == old
    assert "".join(op.text for op in diff.ops if op.op != "delete") == new
    assert diff.words_added == 80 and diff.words_removed == 40
    assert {op.text.strip() for op in diff.ops if op.op == "insert"} == {"RENAMED", "ADDED"}


# --- the diff page ------------------------------------------------------------------------------

def test_a_diff_between_any_two_revisions_renders_inline_and_side_by_side(as_user, world):
    draft, (r1, r2, r3) = three_revisions(world)
    client = as_user("requester")
    url = reverse("editorial:draft-diff", args=[draft.pk])
    inline = client.get(url, {"a": r1.pk, "b": r3.pk}).content.decode()
    assert "r1 → r3" in inline and "+6 words" in inline and "−6 words" in inline
    assert "3 sections changed" in inline
    assert "<ins>finally </ins>" in inline and "<del>cherry and cocoa</del>" in inline
    assert 'class="diff inline"' in inline and 'value="side"' in inline
    side = client.get(url, {"a": r2.pk, "b": r3.pk, "view": "side"}).content.decode()
    assert 'class="diff side"' in side and "r2 → r3" in side
    assert re.search(r'<div class="cell old">Notes of <del>cherry and cocoa</del>\.</div>', side)
    assert re.search(r'<div class="cell new">Notes of <ins>plum</ins>\.</div>', side)


def test_the_diff_page_folds_long_unchanged_stretches_in_both_views(as_user, world):
    draft = draft_in_review(world, content=long_text(20) + "\n\nOld ending.")
    draft_edit(draft=draft, user=world.editor, content=long_text(20) + "\n\nNew ending.",
               base_revision_id=draft.current_revision_id)
    client = as_user("editor")
    for view in ("inline", "side"):
        page = client.get(reverse("editorial:draft-diff", args=[draft.pk]), {"view": view}).content.decode()
        assert page.count('<details class="fold">') == 1 and "⋯ 16 unchanged lines" in page


def test_an_htmx_request_gets_only_the_diff_and_defaults_compare_current_with_its_parent(as_user, world):
    draft, _ = three_revisions(world)
    response = as_user("editor").get(reverse("editorial:draft-diff", args=[draft.pk]), {"view": "side"},
                                     HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="diff"')
    assert "r2 → r3" in body and "<html" not in body


def test_the_diff_page_is_hidden_from_outsiders_and_refuses_post(as_user, world):
    draft, (r1, _r2, r3) = three_revisions(world)
    url = reverse("editorial:draft-diff", args=[draft.pk])
    assert as_user("outsider").get(url, {"a": r1.pk, "b": r3.pk}).status_code == 404
    assert as_user("editor").post(url, {"a": r1.pk, "b": r3.pk}).status_code == 405


def test_the_draft_page_changes_card_and_timeline_link_to_the_diff(as_user, world):
    draft, (r1, r2, r3) = three_revisions(world)
    page = as_user("requester").get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    diff_url = reverse("editorial:draft-diff", args=[draft.pk])
    assert 'id="diff-a"' in page and 'value="side"' in page and 'id="diff"' in page
    assert f'{diff_url}?a={r1.pk}&amp;b={r3.pk}">Compare with current' in page
    assert f'{diff_url}?a={r1.pk}&amp;b={r2.pk}">Compare with previous' in page


# --- restoring ----------------------------------------------------------------------------------

def test_restoring_makes_a_new_revision_with_the_old_text_and_overwrites_nothing(world):
    draft, (r1, _r2, r3) = three_revisions(world)
    restored = revision_restore(draft=draft, user=world.editor, revision_id=r1.pk)
    assert (restored.number, restored.content, restored.parent_id) == (4, R1, r3.pk)
    assert restored.note == "Restored from r1" and restored.author_user == world.editor
    assert [r.content for r in draft.revisions.order_by("number")] == [R1, R2, R3, R1]
    draft.refresh_from_db()
    assert draft.current_revision == restored
    event = AuditEvent.objects.get(action="editorial.revision.restore")
    assert event.actor_user == world.editor and event.object_id == str(restored.pk)
    assert event.data == {"draft": draft.pk, "restored_from": 1, "old": 3, "new": 4}


def test_a_restore_is_policy_checked_and_reopens_the_gates_like_an_edit(world):
    draft = draft_in_review(world, content="Freshness guaranteed.")
    draft_edit(draft=draft, user=world.editor, content="Freshness designed to last.",
               base_revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    first = draft.revisions.get(number=1)
    restored = revision_restore(draft=draft, user=world.editor, revision_id=first.pk, note="legal asked")
    assert restored.note == "Restored from r1: legal asked"
    assert [(f.category, f.text) for f in restored.findings.all()] == [("banned_term", "guaranteed")]
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW


def test_restoring_a_revision_of_another_draft_or_the_current_one_is_refused(world):
    draft, (r1, _r2, r3) = three_revisions(world)
    other = draft_in_review(world)
    with pytest.raises(ValidationError, match="does not belong to this draft"):
        revision_restore(draft=draft, user=world.editor, revision_id=other.current_revision_id)
    with pytest.raises(ValidationError, match="r3 is already the current revision"):
        revision_restore(draft=draft, user=world.editor, revision_id=r3.pk)
    with pytest.raises(PermissionDenied):
        revision_restore(draft=draft, user=world.requester, revision_id=r1.pk)
    assert draft.revisions.count() == 3 and other.revisions.count() == 1
    assert not AuditEvent.objects.filter(action="editorial.revision.restore").exists()


def test_restoring_in_the_browser_says_what_happened(as_user, world):
    draft, (_r1, r2, _r3) = three_revisions(world)
    url = reverse("editorial:revision-restore", args=[draft.pk, r2.pk])
    response = as_user("editor").post(url, follow=True)
    assert response.redirect_chain == [(reverse("editorial:draft", args=[draft.pk]), 302)]
    body = response.content.decode()
    assert "Restored r2 as the new revision r4; nothing was deleted." in body
    assert "Restored by Eddie from r2" in body
    assert draft.revisions.get(number=4).content == R2


def test_restoring_a_revision_of_another_draft_in_the_browser_changes_nothing(as_user, world):
    draft, _ = three_revisions(world)
    other = draft_in_review(world)
    url = reverse("editorial:revision-restore", args=[draft.pk, other.current_revision_id])
    body = as_user("editor").post(url, follow=True).content.decode()
    assert "does not belong to this draft; nothing was restored." in body
    assert draft.revisions.count() == 3


def test_the_restore_route_refuses_requesters_outsiders_and_get(as_user, world, client):
    draft, (r1, _r2, _r3) = three_revisions(world)
    url = reverse("editorial:revision-restore", args=[draft.pk, r1.pk])
    assert as_user("requester").post(url).status_code == 403
    client.logout()
    assert as_user("outsider").post(url).status_code == 404
    client.logout()
    assert as_user("editor").get(url).status_code == 405
    assert draft.revisions.count() == 3


# --- the timeline -------------------------------------------------------------------------------

def test_the_timeline_shows_authors_and_provenance_and_restore_buttons_only_to_editors(as_user, world, client):
    draft, (r1, _r2, _r3) = three_revisions(world)
    url = reverse("editorial:draft", args=[draft.pk])
    page = as_user("editor").get(url).content.decode()
    timeline = page[page.index('id="revs-h"'):]
    assert f"agent · {r1.author_run}" in timeline and "test-model" in timeline
    assert "Edited by Eddie from r1" in timeline and "Edited by Eddie from r2" in timeline
    assert "Restore r1" in timeline and "Restore r2" in timeline and "Restore r3" not in timeline
    assert 'data-confirm="Restore r1? Its text becomes a new revision' in timeline  # asked by static/js/forms.js
    client.logout()
    page = as_user("requester").get(url).content.decode()
    assert "Edited by Eddie from r1" in page and "Restore r" not in page


def test_the_timeline_shows_the_cost_of_a_generated_revision(as_user, world):
    draft = draft_in_review(world)
    first = draft.current_revision
    Revision.objects.filter(pk=first.pk).update(provenance={
        "model": "test-model", "model_version": {"id": 1, "name": "Settings model"},
        "prompt_template_version": {"id": 1, "label": "Blog post v1"}, "cost": "0.000420",
    })
    page = as_user("requester").get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert "test-model (Settings model) · Blog post v1 · $0.00042" in page


def test_costs_on_the_draft_page_use_the_same_currency_as_budgets(as_user, world, settings):
    settings.AIOS_CURRENCY_SYMBOL = "€"
    draft = draft_in_review(world)
    Revision.objects.filter(pk=draft.current_revision.pk).update(provenance={"model": "test-model", "cost": "0.0012"})
    page = as_user("requester").get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert "test-model · €0.0012" in page and "$0.0012" not in page


def test_a_revision_with_the_current_text_offers_no_restore(as_user, world):
    draft, (r1, _r2, _r3) = three_revisions(world)
    revision_restore(draft=draft, user=world.editor, revision_id=r1.pk)
    page = as_user("editor").get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert "Restore r1" not in page and "same text as current" in page and "Restore r2" in page


# --- what the scripts need ---------------------------------------------------------------------

def test_the_draft_page_has_the_shortcuts_and_a_saved_edit_tells_the_page_to_drop_the_local_copy(as_user, world):
    draft = draft_in_review(world)
    client = as_user("editor")
    response = client.post(reverse("editorial:draft-edit", args=[draft.pk]),
                           {"content": "Edited.", "base_revision": draft.current_revision_id}, follow=True)
    body = response.content.decode()
    assert 'class="msg edit-saved success"' in body and f'data-draft-id="{draft.pk}"' in body
    assert 'id="shortcuts"' in body and "js/keys.js" in body and "js/edit-backup.js" in body
    assert 'data-shortcut="edit"' in body and "js/draft.js" in body


def test_the_edit_page_names_its_draft_and_base_for_the_local_copy(as_user, world):
    draft = draft_in_review(world)
    page = as_user("editor").get(reverse("editorial:draft-edit", args=[draft.pk])).content.decode()
    assert f'data-draft="{draft.pk}"' in page and 'data-base-number="1"' in page and "js/edit-backup.js" in page
