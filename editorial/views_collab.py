"""Comments on drafts and the notifications inbox: parse → service → render.

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
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from editorial import comments, notifications, selectors
from editorial.models import Draft, NotificationKind

PANEL = "editorial/comments.html#panel"


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    """Field → messages; messages about no field in particular go under "general"."""
    if hasattr(exc, "error_dict"):
        return {("general" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
    return {"general": exc.messages}


def panel_context(request: HttpRequest, draft: Draft, **extra: Any) -> dict[str, Any]:
    """What the comments panel needs; the draft page draws it through the `comments_panel` tag."""
    views = comments.threads_for_draft(user=request.user, draft=draft)
    current = draft.current_revision
    for v in views:
        for c in v.comments:
            c.html = comments.render_body(c)
    open_threads = [v for v in views if not v.thread.is_resolved]
    return {
        "draft": draft,
        "current": current,
        "sections": comments.headings(current.content) if current else [],
        "open_threads": open_threads,
        "resolved_threads": [v for v in views if v.thread.is_resolved],
        "marks": [
            {"thread": v.thread.pk, "quote": v.thread.quote, "occurrence": v.occurrence}
            for v in open_threads if v.thread.quote and v.current_start is not None
        ],
        "max_body": comments.MAX_BODY_CHARS,
        "form": {},
        "form_errors": {},
        "reply_to": None,
        "reply_body": "",
        "reply_errors": [],
        "panel_error": "",
        "focus": "",
        "status_text": "",
        **extra,
    }


def _panel(request: HttpRequest, draft: Draft, *, status: int = 200, **extra: Any) -> HttpResponse:
    return render(request, PANEL, panel_context(request, draft, **extra), status=status)


def _back_to_draft(draft: Draft, anchor: str = "comments") -> HttpResponse:
    return redirect(reverse("editorial:draft", args=[draft.pk]) + f"#{anchor}")


def render_panel(request: HttpRequest, draft: Draft) -> str:
    return render_to_string(PANEL, panel_context(request, draft), request=request)


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


# --- notifications -------------------------------------------------------------------------------

@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    items = notifications.notifications_for_user(user=request.user)
    unread = notifications.unread_count(request.user.pk)
    return render(request, "editorial/notifications.html", {"items": items, "unread": unread})


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one read; with `open` set, go on to what it is about."""
    notification = notifications.notification_mark_read(user=request.user, pk=pk)
    if request.POST.get("open") and url_has_allowed_host_and_scheme(notification.url, allowed_hosts=None):
        return redirect(notification.url)  # only a path of this site
    if request.htmx:
        return render(request, "editorial/notifications.html#item", {"n": notification})
    return redirect(_safe_next(request, reverse("editorial:notifications")))


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = notifications.notification_mark_all_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read." if count
                     else "Nothing was unread.")
    return redirect(_safe_next(request, reverse("editorial:notifications")))


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        switches = {
            kind: {"in_app": f"{kind}-in_app" in request.POST, "email": f"{kind}-email" in request.POST}
            for kind in NotificationKind.values
        }
        notifications.settings_update(user=request.user, switches=switches)
        messages.success(request, "Notification settings saved.")
        return redirect("editorial:notification-settings")
    return render(request, "editorial/notification_settings.html", {
        "switches": notifications.settings_for_user(request.user),
        "has_email": bool(request.user.email),
    })
