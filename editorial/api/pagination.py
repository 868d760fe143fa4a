"""Cursor pagination of the API's lists: newest first, stable under inserts; or in the order of a
unique number (a batch's rows), stable while items move between filters."""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from ninja import Query

from editorial.schemas import MAX_ID

CURSOR_PATTERN = r"^[A-Za-z0-9_-]{0,200}$"
DEFAULT_LIMIT, MAX_LIMIT = 25, 100


def cursor_encode(item: Any) -> str:
    """Opaque to clients: the (created_at, id) of the last item they saw."""
    raw = json.dumps([item.created_at.isoformat(), item.pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    try:
        created, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        created_at = datetime.fromisoformat(created)
        if timezone.is_naive(created_at) or type(pk) is not int or not 1 <= pk <= MAX_ID:
            raise ValueError("not a cursor")
        # In UTC, as cursor_encode writes it: PostgreSQL refuses offsets of 16 hours or more.
        created_at = created_at.astimezone(dt_timezone.utc)
    except (ValueError, TypeError, binascii.Error, OverflowError) as exc:
        raise ValidationError({"cursor": "Not a cursor this API gave out; start again without one."}) from exc
    return created_at, pk


def number_cursor_encode(number: int) -> str:
    """Opaque to clients: the number of the last item they saw, for lists in ascending order of a
    unique number (a batch's rows)."""
    return base64.urlsafe_b64encode(json.dumps({"after": number}).encode()).decode().rstrip("=")


def number_cursor_decode(cursor: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        number = data["after"] if isinstance(data, dict) else None
        if type(number) is not int or not 0 <= number <= MAX_ID:
            raise ValueError("not a cursor")
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise ValidationError({"cursor": "Not a cursor this API gave out; start again without one."}) from exc
    return number


def paginate(qs: QuerySet, *, cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    """Newest first, stable under inserts: items strictly after the cursor's (created_at, id)."""
    qs = qs.order_by("-created_at", "-pk")
    if cursor:
        created_at, pk = cursor_decode(cursor)
        qs = qs.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    items = list(qs[: limit + 1])
    next_cursor = cursor_encode(items[limit - 1]) if len(items) > limit else None
    return items[:limit], next_cursor


def cursor_param() -> Any:
    return Query(None, max_length=200, pattern=CURSOR_PATTERN, description="`next_cursor` of the previous page")


def limit_param() -> Any:
    return Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page")
