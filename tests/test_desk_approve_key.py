"""What the draft page gives the `a` shortcut (a confirmation naming the gate and revision, or the
reason there is nothing to approve), and the timeline's revision picks for a comparison. The browser
side is in tests/test_desk_flows_browser.py."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from editorial.editing import draft_edit
from editorial.models import Draft, Revision
from governance.models import Finding
from governance.signoffs import signoff_record
from tests.factories import PASSWORD
from tests.helpers import draft_in_review


@pytest.fixture
def page(client, world):
    def get(name: str, draft: Draft) -> str:
        client.logout()
        assert client.login(username=world.user(name).username, password=PASSWORD)
        response = client.get(reverse("editorial:draft", args=[draft.pk]))
        assert response.status_code == 200
        return re.sub(r"\s+", " ", response.content.decode())
    return get


def dialog(body: str) -> str:
    found = re.search(r'<dialog class="shortcuts confirm-approve" id="approve-confirm".*?</dialog>', body)
    return found.group(0) if found else ""


def test_the_confirmation_names_the_gate_and_the_current_revision_and_posts_an_approval(page, world):
    draft = draft_in_review(world)
    draft_edit(draft=draft, user=world.editor, content="## Part 1\n\nHello again.", base_revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    html = dialog(page("editor", draft))
    assert 'aria-labelledby="approve-confirm-h"' in html
    assert "Approve the Editorial gate?" in html
    assert "You sign <strong>Editorial</strong> for <strong>revision r2</strong>" in html
    action = reverse("editorial:gate-action", args=[draft.pk, world.gates["editorial"].pk])
    assert f'action="{action}"' in html
    assert f'name="revision" value="{draft.current_revision_id}"' in html
    assert 'name="decision" value="approve"' in html and "Enter</kbd> approves" in html


def test_the_shortcut_list_says_what_a_does_here(page, world):
    draft = draft_in_review(world)
    assert "Approve the Editorial gate for r1: asks first" in page("editor", draft)
    assert "(nothing for you to approve here)" in page("requester", draft)


@pytest.mark.parametrize(("who", "setup", "reason"), [
    ("requester", None, "none of its open gates is yours to sign"),
    ("brand_reviewer", None, "none of its open gates is yours to sign"),  # low risk: no brand gate
    ("editor", "blocking", "1 blocking finding must be fixed or overridden first"),
    ("editor", "approved", "it is “Approved”, not in review"),
])
def test_without_a_gate_to_approve_the_page_carries_the_reason(page, world, who, setup, reason):
    draft = draft_in_review(world)
    if setup == "blocking":
        Finding.objects.create(revision=draft.current_revision, category="banned_term", severity="blocking",
                               start=0, end=2, text="##", message="banned")
    if setup == "approved":
        signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                       revision_id=draft.current_revision_id)
        draft.refresh_from_db()
        assert draft.status == Draft.Status.APPROVED
    body = page(who, draft)
    assert not dialog(body)
    assert f'<p id="approve-unavailable" hidden>Nothing for you to approve here: {reason}.</p>' in body


def test_the_timeline_lets_you_pick_two_revisions_to_compare(page, world):
    draft = draft_in_review(world, content="One.")
    for text in ("Two.", "Three."):
        draft_edit(draft=draft, user=world.editor, content=text, base_revision_id=draft.current_revision_id)
        draft.refresh_from_db()
    r1, r2, r3 = Revision.objects.filter(draft=draft).order_by("number")
    body = page("requester", draft)  # reading, not editing: everyone who sees the draft may compare
    diff_url = reverse("editorial:draft-diff", args=[draft.pk])
    assert f'<form id="timeline-compare" class="tl-compare small" method="get" action="{diff_url}">' in body
    picks = re.findall(r'<input type="radio" name="([ab])" value="(\d+)" form="timeline-compare"( checked)?>', body)
    assert {(n, int(v)) for n, v, _ in picks} == {(n, r.pk) for n in "ab" for r in (r1, r2, r3)}
    # By default the comparison is the one the Changes card shows: the previous revision to the current one.
    assert {(n, int(v)) for n, v, c in picks if c} == {("a", r2.pk), ("b", r3.pk)}
    assert '<span class="sr-only">Compare </span>from<span class="sr-only"> r1</span>' in body


def test_a_draft_with_one_revision_offers_no_comparison(page, world):
    assert 'id="timeline-compare"' not in page("editor", draft_in_review(world))
