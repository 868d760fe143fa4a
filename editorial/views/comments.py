"""Comments on drafts: start a thread, reply, resolve, re-open.

Comment forms post with htmx and get the comments panel back (with the refusal in it, 4xx, when
the input was refused); without JavaScript they post normally and return to the draft page.
"""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from editorial import comments, selectors
from editorial.draftpage import comments_panel_context
from editorial.models import Draft

PANEL = "editorial/comments.html#panel"


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    """Field → messages; messages about no field in particular go under "general"."""
    if hasattr(exc, "error_dict"):
        return {("general" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
    return {"general": exc.messages}


def _panel(request: HttpRequest, draft: Draft, *, status: int = 200, **extra: Any) -> HttpResponse:
    return render(request, PANEL, comments_panel_context(user=request.user, draft=draft, **extra), status=status)


def _back_to_draft(draft: Draft, anchor: str = "comments") -> HttpResponse:
    return redirect(reverse("editorial:draft", args=[draft.pk]) + f"#{anchor}")


@login_required
@require_http_methods(["GET", "POST"])
def comments_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the panel (htmx refreshes it). POST: start a thread, anchored to the whole text, a section,
    or a quoted range of the revision the person was reading."""
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    if request.method == "GET":
        return _panel(request, draft)
    form = {k: request.POST.get(k, "") for k in ("body", "section", "quote", "quote_start", "revision")}
    errors: dict[str, list[str]] = {}
    raw_start = form["quote_start"].strip()
    quote_start = int(raw_start) if raw_start.isdigit() else None
    if raw_start and quote_start is None:
        errors["quote"] = ["The position of the quote must be a whole number; select the text again."]
    revision_id = int(form["revision"]) if form["revision"].isdigit() else None
    if revision_id is None:
        errors["revision"] = ["Say which revision the comment is about; reload the page and try again."]
    if not errors:
        try:
            thread = comments.thread_create(
                draft=draft, user=request.user, revision_id=revision_id, body=form["body"],
                section=form["section"], quote=form["quote"], quote_start=quote_start,
            )
        except ValidationError as exc:
            errors = _errors(exc)
        except PermissionDenied as exc:
            errors = {"general": [str(exc)]}
    if errors:
        if not request.htmx:
            for msgs in errors.values():
                messages.error(request, " ".join(msgs))
            return _back_to_draft(draft)
        return _panel(request, draft, status=422, form=form, form_errors=errors, focus="nt-body")
    if not request.htmx:
        messages.success(request, "Comment posted.")
        return _back_to_draft(draft, f"thread-{thread.pk}")
    return _panel(request, draft, focus=f"thread-{thread.pk}")


def _thread_action(request: HttpRequest, pk: int, thread_id: int, action: str) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    thread = comments.thread_get_for_user(user=request.user, draft=draft, pk=thread_id)
    body = request.POST.get("body", "")
    try:
        if action == "reply":
            comments.comment_reply(thread=thread, user=request.user, body=body)
        elif action == "resolve":
            comments.thread_resolve(thread=thread, user=request.user)
        else:
            comments.thread_reopen(thread=thread, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        status = 403 if isinstance(exc, PermissionDenied) else 422
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        if not request.htmx:
            messages.error(request, text)
            return _back_to_draft(draft, f"thread-{thread.pk}")
        if action == "reply":
            return _panel(request, draft, status=status, reply_to=thread.pk, reply_body=body, reply_errors=[text],
                          focus=f"reply-{thread.pk}")
        return _panel(request, draft, status=status, panel_error=text, focus=f"thread-{thread.pk}")
    done = {"reply": "Reply posted.", "resolve": "Thread resolved.", "reopen": "Thread re-opened."}[action]
    if not request.htmx:
        messages.success(request, done)
        return _back_to_draft(draft, f"thread-{thread.pk}")
    return _panel(request, draft, focus=f"thread-{thread.pk}", status_text=done)


@login_required
@require_POST
def thread_reply(request: HttpRequest, pk: int, thread_id: int) -> HttpResponse:
    return _thread_action(request, pk, thread_id, "reply")


@login_required
@require_POST
def thread_resolve(request: HttpRequest, pk: int, thread_id: int) -> HttpResponse:
    return _thread_action(request, pk, thread_id, "resolve")


@login_required
@require_POST
def thread_reopen(request: HttpRequest, pk: int, thread_id: int) -> HttpResponse:
    return _thread_action(request, pk, thread_id, "reopen")
