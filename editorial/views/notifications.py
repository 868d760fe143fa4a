"""The notifications inbox and each person's notification settings."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from editorial import notifications
from editorial.models import NotificationKind
from editorial.views.redirects import next_url


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    items = notifications.notifications_for_user(user=request.user)
    unread = notifications.unread_count(request.user.pk)
    return render(request, "editorial/notifications.html", {"items": items, "unread": unread})


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one read; with `open` set, go on to what it is about."""
    notification = notifications.notification_mark_read(user=request.user, pk=pk)
    if request.POST.get("open") and url_has_allowed_host_and_scheme(notification.url, allowed_hosts=None):
        return redirect(notification.url)  # only a path of this site
    if request.htmx:
        return render(request, "editorial/notifications.html#item", {"n": notification})
    return redirect(next_url(request, reverse("editorial:notifications")))


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = notifications.notification_mark_all_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read." if count
                     else "Nothing was unread.")
    return redirect(next_url(request, reverse("editorial:notifications")))


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
