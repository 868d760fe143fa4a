"""What base.html draws on every page: the notifications badge's unread count."""
from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.http import HttpRequest

from editorial.notifications import unread_count


def notifications(request: HttpRequest) -> dict[str, Callable[[], int]]:
    """The unread count, as a callable the template calls: counted only on pages that draw the badge
    (not for htmx partials or JSON), and once per page."""
    user: Any = getattr(request, "user", None)

    @cache
    def unread() -> int:
        return unread_count(user.pk) if user is not None and user.is_authenticated else 0

    return {"notifications_unread": unread}
