"""Comment threads on a draft's revisions: services (every write) and the reads the desk needs.

A thread is anchored to the revision the person was reading: to its whole text, to one section
(a heading of that revision), or to a quoted range (`quote` found at `quote_start` in that
revision's content). Comments are append-only: there is no service that edits or deletes one.
Resolving and re-opening a thread are audited state changes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from editorial.assignments import may_review
from editorial.models import Comment, CommentThread, Draft, NotificationKind, Revision
from editorial.notifications import notify
from editorial.realtime import push_draft_event
from governance.audit import audit_log
from governance.permissions import draft_policy

MAX_BODY_CHARS = 5_000
MAX_QUOTE_CHARS = 2_000
MAX_MENTIONS = 20
# `@name` where name is a Django username; not when glued to a word before it (an e-mail address).
MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]*[\w+-])")
HEADING_RE = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def headings(content: str) -> list[str]:
    """The section headings of a revision's Markdown, in order."""
    return [m.group(1).strip() for m in HEADING_RE.finditer(content or "")]


# --- reads -----------------------------------------------------------------------------------------

def thread_get_for_user(*, user: Any, draft: Draft, pk: int | str) -> CommentThread:
    """A thread of this draft (404 for a thread of another draft: its existence is not revealed)."""
    if not draft_policy.user_has_permission_for_instance(user, "view", draft):
        raise Http404("No such draft.")
    try:
        return CommentThread.objects.select_related("revision", "created_by", "resolved_by").get(
            pk=int(pk), draft=draft
        )
    except (TypeError, ValueError, CommentThread.DoesNotExist) as exc:
        raise Http404("No such comment thread on this draft.") from exc


def may_resolve(user: Any, thread: CommentThread, draft: Draft) -> bool:
    """Whoever started the thread, and the people who edit or sign the draft."""
    if not draft_policy.user_has_permission_for_instance(user, "view", draft):
        return False
    return thread.created_by_id == user.pk or may_review(user, draft)


def quote_position_in(content: str, quote: str, hint: int | None) -> int | None:
    """Where `quote` is in `content`: at `hint` if it is still there, else the occurrence nearest to it."""
    if not quote:
        return None
    if hint is not None and content[hint:hint + len(quote)] == quote:
        return hint
    positions, at = [], content.find(quote)
    while at != -1:
        positions.append(at)
        at = content.find(quote, at + 1)
    if not positions:
        return None
    return min(positions, key=lambda p: abs(p - (hint or 0)))


def _occurrence(content: str, quote: str, start: int) -> int:
    """How many times (overlapping) the quote starts before `start`: the page finds the same one."""
    count, at = 0, content.find(quote)
    while -1 < at < start:
        count += 1
        at = content.find(quote, at + 1)
    return count


@dataclass
class ThreadView:
    thread: CommentThread
    comments: list[Comment]
    on_older_revision: bool
    current_start: int | None  # where the quote is in the current text, None if it is gone
    occurrence: int | None  # which occurrence of the quote that is (for the page's highlighter)
    can_resolve: bool

    @property
    def quote_gone(self) -> bool:
        return bool(self.thread.quote) and self.current_start is None


def threads_for_draft(*, user: Any, draft: Draft) -> list[ThreadView]:
    """The draft's threads, open ones first (oldest first within each group)."""
    if not draft_policy.user_has_permission_for_instance(user, "view", draft):
        raise Http404("No such draft.")
    current = draft.current_revision
    content = current.content if current else ""
    threads = (
        CommentThread.objects.filter(draft=draft)
        .select_related("revision", "created_by", "resolved_by")
        .prefetch_related("comments__author", "comments__mentions")
    )
    reviewer = may_review(user, draft)
    views = []
    for t in threads:
        start = quote_position_in(content, t.quote, t.quote_start) if t.quote else None
        views.append(ThreadView(
            thread=t,
            comments=list(t.comments.all()),
            on_older_revision=current is not None and t.revision_id != current.pk,
            current_start=start,
            occurrence=_occurrence(content, t.quote, start) if start is not None else None,
            can_resolve=reviewer or t.created_by_id == user.pk,
        ))
    views.sort(key=lambda v: (v.thread.is_resolved, v.thread.created_at, v.thread.pk))
    return views


def render_body(comment: Comment) -> SafeString:
    """The comment's text, escaped, with line breaks and its real mentions marked."""
    names = {u.get_username(): u for u in comment.mentions.all()}

    def mark(match: re.Match) -> str:
        user = names.get(match.group(1))
        if user is None:
            return match.group(0)
        return f'<strong class="mention" title="{escape(_name(user))}">@{match.group(1)}</strong>'

    html = MENTION_RE.sub(mark, str(escape(comment.body)))
    return mark_safe(html.replace("\n", "<br>"))


# --- writes ----------------------------------------------------------------------------------------

def _clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError({"body": "Write something: the comment is empty."})
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError({"body": f"A comment can be at most {MAX_BODY_CHARS:,} characters ({len(body):,} now)."})
    return body


def mentioned_users(*, body: str, draft: Draft) -> list[Any]:
    """The people named with @username. An unknown name, or someone who does not work on the draft's
    brand, is refused with the same message (so the text reveals nothing about other brands' people)."""
    names = list(dict.fromkeys(MENTION_RE.findall(body)))
    if len(names) > MAX_MENTIONS:
        raise ValidationError({"body": f"Mention at most {MAX_MENTIONS} people in one comment."})
    if not names:
        return []
    found = {u.get_username(): u for u in get_user_model().objects.filter(username__in=names, is_active=True)}
    users, unknown = [], []
    for name in names:
        user = found.get(name)
        if user is None or not draft_policy.user_has_permission_for_instance(user, "view", draft):
            unknown.append(f"@{name}")
        else:
            users.append(user)
    if unknown:
        who = ", ".join(unknown)
        raise ValidationError({"body": (
            f"{who} {'is not someone' if len(unknown) == 1 else 'are not people'} who can work on {draft.brand}; "
            "check the name. Nothing was posted."
        )})
    return users


def _nudge(draft: Draft, thread: CommentThread, user: Any) -> None:
    """On commit, tell the pages open on this draft that its comments changed; they re-fetch the panel
    over HTTP, through the same access checks as a page load."""
    event = {"kind": "comments", "thread": thread.pk, "by": user.pk}
    transaction.on_commit(lambda: push_draft_event(draft.pk, event), robust=True)


def _lock_draft(draft: Draft, user: Any) -> Draft:
    if not draft_policy.user_has_permission_for_instance(user, "view", draft):
        raise PermissionDenied("You cannot comment on this draft.")
    # The draft row first, then the audit chain (the project's lock order).
    return Draft.objects.select_for_update(of=("self",)).select_related("brand").get(pk=draft.pk)


def _add_comment(*, thread: CommentThread, draft: Draft, user: Any, body: str, mentions: list[Any]) -> Comment:
    comment = Comment.objects.create(thread=thread, author=user, body=body)
    comment.mentions.set(mentions)
    _nudge(draft, thread, user)
    audit_log(
        action="editorial.comment.create", obj=comment, user=user,
        data={"draft": draft.pk, "thread": thread.pk, "body": body,
              "mentions": [u.get_username() for u in mentions]},
    )
    if mentions:
        where = f"“{thread.quote[:60]}…”" if len(thread.quote) > 60 else (f"“{thread.quote}”" if thread.quote else "")
        notify(
            users=mentions, kind=NotificationKind.MENTION, draft=draft, actor=user,
            message=f"{_name(user)} mentioned you on “{draft.title}”{' at ' + where if where else ''}: {body[:200]}",
            url=reverse("editorial:draft", args=[draft.pk]) + f"#thread-{thread.pk}",
        )
    return comment


@transaction.atomic
def thread_create(
    *,
    draft: Draft,
    user: Any,
    revision_id: int,
    body: str,
    section: str = "",
    quote: str = "",
    quote_start: int | None = None,
) -> CommentThread:
    """Start a discussion on a revision the person read: the whole text, a section, or a quoted range."""
    body = _clean_body(body)
    draft = _lock_draft(draft, user)
    revision = Revision.objects.filter(pk=revision_id, draft=draft).first()
    if revision is None:
        raise ValidationError({"revision": "That revision does not belong to this draft; nothing was posted."})
    section = (section or "").strip()
    if quote:
        if len(quote) > MAX_QUOTE_CHARS:
            raise ValidationError({"quote": f"Quote at most {MAX_QUOTE_CHARS:,} characters; select less text."})
        if not quote.strip():
            raise ValidationError({"quote": "The selected text is only white space; select some words."})
        if quote_start is None or quote_start < 0 or revision.content[quote_start:quote_start + len(quote)] != quote:
            raise ValidationError({"quote": (
                f"The quoted text is not at that place in r{revision.number}; select it again. Nothing was posted."
            )})
    elif quote_start is not None:
        raise ValidationError({"quote": "A position was given without the quoted text; nothing was posted."})
    if section and section not in headings(revision.content):
        raise ValidationError({"section": f"r{revision.number} has no section “{section[:80]}”; nothing was posted."})
    mentions = mentioned_users(body=body, draft=draft)
    thread = CommentThread.objects.create(
        draft=draft, revision=revision, section=section[:200], quote=quote,
        quote_start=quote_start if quote else None, created_by=user,
    )
    audit_log(
        action="editorial.thread.create", obj=thread, user=user,
        data={"draft": draft.pk, "revision": revision.number, "section": thread.section,
              "quote": quote, "quote_start": thread.quote_start},
    )
    _add_comment(thread=thread, draft=draft, user=user, body=body, mentions=mentions)
    return thread


@transaction.atomic
def comment_reply(*, thread: CommentThread, user: Any, body: str) -> Comment:
    body = _clean_body(body)
    draft = _lock_draft(thread.draft, user)
    thread = CommentThread.objects.select_for_update().get(pk=thread.pk)
    if thread.draft_id != draft.pk:  # pragma: no cover - a thread always names its draft
        raise ValidationError("That thread belongs to another draft.")
    if thread.is_resolved:
        raise ValidationError({"body": "This thread is resolved; re-open it to reply. Nothing was posted."})
    mentions = mentioned_users(body=body, draft=draft)
    return _add_comment(thread=thread, draft=draft, user=user, body=body, mentions=mentions)


def _set_resolved(*, thread: CommentThread, user: Any, resolved: bool) -> CommentThread:
    draft = _lock_draft(thread.draft, user)
    thread = CommentThread.objects.select_for_update().get(pk=thread.pk)
    if not may_resolve(user, thread, draft):
        raise PermissionDenied("Only whoever started the thread, or someone who edits or signs this draft, can "
                               f"{'resolve' if resolved else 're-open'} it.")
    if resolved and thread.is_resolved:
        raise ValidationError("This thread is already resolved.")
    if not resolved and not thread.is_resolved:
        raise ValidationError("This thread is already open.")
    old = thread.resolved_at
    thread.resolved_at, thread.resolved_by = (timezone.now(), user) if resolved else (None, None)
    thread.save(update_fields=["resolved_at", "resolved_by"])
    audit_log(
        action=f"editorial.thread.{'resolve' if resolved else 'reopen'}", obj=thread, user=user,
        data={"draft": draft.pk, "resolved": [old is not None, resolved]},
    )
    _nudge(draft, thread, user)
    return thread


@transaction.atomic
def thread_resolve(*, thread: CommentThread, user: Any) -> CommentThread:
    return _set_resolved(thread=thread, user=user, resolved=True)


@transaction.atomic
def thread_reopen(*, thread: CommentThread, user: Any) -> CommentThread:
    return _set_resolved(thread=thread, user=user, resolved=False)
