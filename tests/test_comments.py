"""Comment threads on a draft: anchoring to a revision (whole text, section, quoted range), replies,
resolving and re-opening, @mentions, and the views that post them (htmx and plain forms)."""
from __future__ import annotations

import json
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from editorial import comments
from editorial.comments import comment_reply, thread_create, thread_reopen, thread_resolve, threads_for_draft
from editorial.editing import draft_edit
from editorial.models import Comment, CommentThread, Draft
from governance.models import AuditEvent
from tests.helpers import draft_in_review

TEXT = "## Intro\n\nOur autumn roast is back.\n\n## Taste\n\nNotes of cherry and cocoa. Cherry again."
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def draft(world) -> Draft:
    return draft_in_review(world, content=TEXT)


def quote(draft: Draft, text: str, occurrence: int = 0) -> dict:
    content = draft.current_revision.content
    at = -1
    for _ in range(occurrence + 1):
        at = content.index(text, at + 1)
    return {"quote": text, "quote_start": at}


def start(draft: Draft, user, body: str = "Is this right?", **anchor) -> CommentThread:
    return thread_create(draft=draft, user=user, revision_id=draft.current_revision_id, body=body, **anchor)


def nothing_posted() -> bool:
    return not CommentThread.objects.exists() and not Comment.objects.exists()


# --- services ------------------------------------------------------------------------------------

def test_a_thread_on_a_quoted_range_keeps_the_quote_its_offset_and_the_first_comment(world, draft):
    thread = start(draft, world.editor, **quote(draft, "cherry and cocoa"))
    assert (thread.quote, thread.revision_id, thread.section) == ("cherry and cocoa", draft.current_revision_id, "")
    assert TEXT[thread.quote_start:].startswith("cherry and cocoa")
    assert [c.body for c in thread.comments.all()] == ["Is this right?"]
    actions = list(AuditEvent.objects.filter(action__startswith="editorial.").order_by("id").values_list("action", flat=True))
    assert actions[-2:] == ["editorial.thread.create", "editorial.comment.create"]


def test_a_quote_that_is_not_at_its_offset_is_refused_and_nothing_is_posted(world, draft):
    anchor = quote(draft, "cherry and cocoa")
    with pytest.raises(ValidationError, match="not at that place in r1"):
        start(draft, world.editor, quote="cherry and cocoa", quote_start=anchor["quote_start"] + 1)
    with pytest.raises(ValidationError, match="not at that place"):
        start(draft, world.editor, quote="cherry and cocoa")  # no offset at all
    with pytest.raises(ValidationError, match="not at that place"):
        start(draft, world.editor, quote="not in the text", quote_start=0)
    with pytest.raises(ValidationError, match="white space"):
        start(draft, world.editor, quote="  ", quote_start=0)
    with pytest.raises(ValidationError, match="without the quoted text"):
        start(draft, world.editor, quote="", quote_start=3)
    assert nothing_posted()


def test_a_section_must_be_a_heading_of_that_revision(world, draft):
    assert start(draft, world.editor, section="Taste").section == "Taste"
    with pytest.raises(ValidationError, match="no section “Price”"):
        start(draft, world.editor, section="Price")
    assert CommentThread.objects.count() == 1


def test_empty_and_oversized_comments_are_refused(world, draft):
    with pytest.raises(ValidationError, match="empty"):
        start(draft, world.editor, body="   \n ")
    with pytest.raises(ValidationError, match="at most 5,000 characters"):
        start(draft, world.editor, body="x" * (comments.MAX_BODY_CHARS + 1))
    assert nothing_posted()


def test_a_revision_of_another_draft_cannot_anchor_a_thread(world, draft):
    other = draft_in_review(world, content="Something else.")
    with pytest.raises(ValidationError, match="does not belong to this draft"):
        thread_create(draft=draft, user=world.editor, revision_id=other.current_revision_id, body="Hi")
    assert nothing_posted()


def test_someone_outside_the_brand_cannot_comment(world, draft):
    with pytest.raises(PermissionDenied):
        start(draft, world.outsider)
    assert nothing_posted()


def test_mentions_link_people_of_the_brand_and_refuse_unknown_or_outside_names_alike(world, draft):
    thread = start(draft, world.editor, body="@bree and @lena, please check (mail bree@example.com).")
    assert {u.username for u in thread.comments.get().mentions.all()} == {"bree", "lena"}
    with pytest.raises(ValidationError) as unknown:
        start(draft, world.editor, body="@nobody look")
    with pytest.raises(ValidationError) as outsider:
        start(draft, world.editor, body="@otto look")
    # otto exists but works on another brand: the message must not tell him apart from a stranger
    assert "@nobody is not someone who can work on Northwind" in str(unknown.value)
    assert "@otto is not someone who can work on Northwind" in str(outsider.value)
    assert CommentThread.objects.count() == 1


def test_replies_go_to_open_threads_only(world, draft):
    thread = start(draft, world.requester)
    comment_reply(thread=thread, user=world.brand_reviewer, body="Looks fine to me.")
    thread_resolve(thread=thread, user=world.editor)
    with pytest.raises(ValidationError, match="re-open it to reply"):
        comment_reply(thread=thread, user=world.brand_reviewer, body="One more thing")
    assert thread.comments.count() == 2


def test_resolving_twice_or_reopening_an_open_thread_is_refused_and_each_change_is_audited(world, draft):
    thread = start(draft, world.requester)
    thread_resolve(thread=thread, user=world.editor)
    with pytest.raises(ValidationError, match="already resolved"):
        thread_resolve(thread=thread, user=world.editor)
    thread_reopen(thread=thread, user=world.requester)
    with pytest.raises(ValidationError, match="already open"):
        thread_reopen(thread=thread, user=world.requester)
    thread.refresh_from_db()
    assert thread.resolved_at is None and thread.resolved_by is None
    events = AuditEvent.objects.filter(action__in=["editorial.thread.resolve", "editorial.thread.reopen"])
    assert [(e.action, e.actor_user.username) for e in events.order_by("id")] == [
        ("editorial.thread.resolve", "eddie"), ("editorial.thread.reopen", "rita")]


def test_a_requester_resolves_their_own_threads_but_not_other_peoples(world, draft):
    mine = start(draft, world.requester)
    theirs = start(draft, world.editor)
    thread_resolve(thread=mine, user=world.requester)
    with pytest.raises(PermissionDenied):
        thread_resolve(thread=theirs, user=world.requester)
    theirs.refresh_from_db()
    assert not theirs.is_resolved
    # signers may resolve any thread: the brand reviewer signs a gate of this workflow
    thread_resolve(thread=theirs, user=world.brand_reviewer)


def test_open_threads_come_first_and_older_revisions_and_moved_or_gone_quotes_are_told(world, draft):
    gone = start(draft, world.editor, body="Cherry?", **quote(draft, "cherry and cocoa"))
    moved = start(draft, world.editor, body="Roast?", **quote(draft, "autumn roast"))
    done = start(draft, world.editor, body="Intro ok", section="Intro")
    thread_resolve(thread=done, user=world.editor)
    draft_edit(draft=draft, user=world.editor, base_revision_id=draft.current_revision_id,
               content="## Intro\n\nAt last, our autumn roast is back.\n\n## Taste\n\nNotes of plum. Cherry again.")
    draft.refresh_from_db()
    fresh = start(draft, world.editor, body="New", **quote(draft, "plum"))
    views = threads_for_draft(user=world.editor, draft=draft)
    assert [v.thread.pk for v in views] == [gone.pk, moved.pk, fresh.pk, done.pk]
    by = {v.thread.pk: v for v in views}
    assert by[gone.pk].on_older_revision and by[gone.pk].quote_gone
    assert by[moved.pk].on_older_revision and not by[moved.pk].quote_gone
    assert draft.current_revision.content[by[moved.pk].current_start:].startswith("autumn roast")
    assert not by[fresh.pk].on_older_revision


def test_comment_text_is_escaped_and_only_real_mentions_are_marked(world, draft):
    thread = start(draft, world.editor, body="<script>alert(1)</script> @bree's\nnote, and e-mail x@bree.example")
    html = str(comments.render_body(thread.comments.get()))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count('class="mention"') == 1 and "@bree</strong>" in html and "<br>" in html


# --- views ---------------------------------------------------------------------------------------

def test_the_draft_page_shows_the_panel_with_open_threads_their_quotes_and_marks(world, draft, as_user):
    thread = start(draft, world.editor, body="Check @bree", **quote(draft, "Cherry again"))
    done = start(draft, world.editor, body="Old news")
    thread_resolve(thread=done, user=world.editor)
    body = as_user("legal").get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    panel = body[body.index('id="comments"'):]
    assert panel.index(f'id="thread-{thread.pk}"') < panel.index(f'id="thread-{done.pk}"')
    assert "Resolved threads (1)" in panel and "Cherry again</blockquote>" in panel
    marks = json.loads(re.search(r'<script id="comment-marks" type="application/json">(.*?)</script>', body).group(1))
    assert marks == [{"thread": thread.pk, "quote": "Cherry again", "occurrence": 0}]
    assert 'id="current-content"' in body and 'href="/notifications/"' in body


def test_a_thread_on_an_older_revision_says_so(world, draft, as_user):
    thread = start(draft, world.editor, **quote(draft, "cherry and cocoa"))
    draft_edit(draft=draft, user=world.editor, base_revision_id=draft.current_revision_id, content=TEXT + " More.")
    body = as_user("editor").get(reverse("editorial:comments", args=[draft.pk])).content.decode()
    assert f'id="thread-{thread.pk}"' in body and "r1 · older revision" in body
    assert "Still in the current text." in body


def test_posting_with_htmx_returns_the_panel_with_the_new_thread(world, draft, as_user):
    client = as_user("brand_reviewer")
    data = {"revision": draft.current_revision_id, "body": "Tone check, @eddie", **quote(draft, "Cherry", 0)}
    response = client.post(reverse("editorial:comments", args=[draft.pk]), data, **HTMX)
    assert response.status_code == 200
    thread = CommentThread.objects.get()
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card comments" id="comments"')
    assert f'data-focus="thread-{thread.pk}"' in html and '<strong class="mention"' in html
    assert thread.created_by == world.brand_reviewer and thread.quote_start == TEXT.index("Cherry")


def test_posting_without_javascript_redirects_to_the_thread(world, draft, as_user):
    response = as_user("requester").post(reverse("editorial:comments", args=[draft.pk]),
                                         {"revision": draft.current_revision_id, "body": "Whole text?"})
    thread = CommentThread.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/drafts/{draft.pk}/#thread-{thread.pk}")


@pytest.mark.parametrize(("data", "message"), [
    ({"body": ""}, "the comment is empty"),
    ({"body": "x" * 5001}, "at most 5,000 characters"),
    ({"body": "Hi", "quote": "cherry and cocoa", "quote_start": "3"}, "not at that place in r1"),
    ({"body": "Hi", "quote": "cherry and cocoa", "quote_start": "-4"}, "must be a whole number"),
    ({"body": "Hi", "section": "Nope"}, "has no section"),
    ({"body": "Hi @otto"}, "@otto is not someone"),
    ({"body": "Hi", "revision": "abc"}, "Say which revision"),
])
def test_bad_input_is_explained_in_the_panel_with_422_and_nothing_is_posted(world, draft, as_user, data, message):
    client = as_user("editor")
    data = {"revision": draft.current_revision_id, **data}
    response = client.post(reverse("editorial:comments", args=[draft.pk]), data, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html and 'role="alert"' in html
    if data["body"] == "Hi @otto":
        assert ">Hi @otto</textarea>" in html  # the person's text is kept
    assert nothing_posted()


def test_outsiders_get_404_and_anonymous_visitors_are_sent_to_sign_in(world, draft, as_user, client):
    url = reverse("editorial:comments", args=[draft.pk])
    assert client.get(url).status_code == 302 and "/login/" in client.get(url).url
    other = as_user("outsider")
    assert other.get(url).status_code == 404
    assert other.post(url, {"revision": draft.current_revision_id, "body": "hi"}).status_code == 404
    assert nothing_posted()


def test_wrong_methods_are_refused(world, draft, as_user):
    thread = start(draft, world.editor)
    client = as_user("editor")
    assert client.get(reverse("editorial:thread-reply", args=[draft.pk, thread.pk])).status_code == 405
    assert client.get(reverse("editorial:thread-resolve", args=[draft.pk, thread.pk])).status_code == 405
    assert client.put(reverse("editorial:comments", args=[draft.pk])).status_code == 405
    assert client.delete(reverse("editorial:comments", args=[draft.pk])).status_code == 405
    assert Comment.objects.count() == 1


def test_a_thread_is_only_reached_through_its_own_draft(world, draft, as_user):
    other = draft_in_review(world, content="Another text.")
    thread = start(other, world.editor)
    client = as_user("editor")
    for name in ("thread-reply", "thread-resolve", "thread-reopen"):
        response = client.post(reverse(f"editorial:{name}", args=[draft.pk, thread.pk]), {"body": "hi"})
        assert response.status_code == 404
    assert thread.comments.count() == 1 and not CommentThread.objects.get(pk=thread.pk).is_resolved


def test_reply_resolve_and_reopen_through_the_views(world, draft, as_user):
    thread = start(draft, world.requester)
    client = as_user("editor")
    url = lambda name: reverse(f"editorial:{name}", args=[draft.pk, thread.pk])
    assert client.post(url("thread-reply"), {"body": "On it."}, **HTMX).status_code == 200
    assert client.post(url("thread-reply"), {"body": " "}, **HTMX).status_code == 422
    assert client.post(url("thread-resolve"), **HTMX).status_code == 200
    twice = client.post(url("thread-resolve"), **HTMX)
    assert twice.status_code == 422 and "already resolved" in twice.content.decode()
    response = client.post(url("thread-reopen"))
    assert response.status_code == 302 and response.url.endswith(f"#thread-{thread.pk}")
    thread.refresh_from_db()
    assert not thread.is_resolved and [c.body for c in thread.comments.all()] == ["Is this right?", "On it."]


def test_a_requester_cannot_resolve_someone_elses_thread_through_the_view(world, draft, as_user):
    thread = start(draft, world.editor)
    client = as_user("requester")
    response = client.post(reverse("editorial:thread-resolve", args=[draft.pk, thread.pk]), **HTMX)
    assert response.status_code == 403 and "Only whoever started the thread" in response.content.decode()
    body = client.get(reverse("editorial:comments", args=[draft.pk])).content.decode()
    assert ">Resolve</button>" not in body  # no button for what they may not do
    assert not CommentThread.objects.get(pk=thread.pk).is_resolved


def test_pages_open_on_the_draft_are_nudged_after_commit_only(world, draft, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    pushed = []
    monkeypatch.setattr("editorial.comments.push_draft_event", lambda pk, data: pushed.append((pk, data)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        thread = start(draft, world.editor)
    assert pushed == []
    for callback in callbacks:
        callback()
    assert pushed == [(draft.pk, {"kind": "comments", "thread": thread.pk, "by": world.editor.pk})]
    with django_capture_on_commit_callbacks(execute=True):
        thread_resolve(thread=thread, user=world.legal)
    assert pushed[-1] == (draft.pk, {"kind": "comments", "thread": thread.pk, "by": world.legal.pk})
