"""Template tags for the desk's collaboration: the comments panel and the notifications badge.

Tags rather than view context, so the draft page and base.html stay the only places that say where
these appear."""
from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def comments_panel(context: dict[str, Any], draft: Any) -> SafeString:
    from editorial.views_collab import render_panel

    request = context["request"]
    return mark_safe(render_panel(request, draft))


@register.inclusion_tag("editorial/_notification_badge.html", takes_context=True)
def notification_badge(context: dict[str, Any]) -> dict[str, Any]:
    from editorial.notifications import unread_count

    request = context.get("request")
    user = getattr(request, "user", None)
    authenticated = bool(user and user.is_authenticated)
    return {"unread": unread_count(user.pk) if authenticated else 0, "request": request}
