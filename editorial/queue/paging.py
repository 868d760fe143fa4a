"""Pages of the desk queue: by keyset on (status_changed_at, id), so a deep page costs what the first
one does, and counts are capped, so a badge never counts a whole table."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import BooleanField, Case, IntegerField, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from editorial.models import Draft
from editorial.schemas import MAX_ID
from governance.models import Risk

QUEUE_PAGE_SIZE = 25
QUEUE_COUNT_CAP = 200
SORTS = {"urgent": "Most urgent", "oldest": "Oldest", "newest": "Newest"}
# "Most urgent": high risk first, then the longest waiting. Each risk is paged on its own, so every
# page is a walk down the (status_changed_at, id) index rather than a sort of the whole queue.
URGENCY = (Risk.HIGH.value, Risk.MEDIUM.value, Risk.LOW.value)
ALL_RISKS = "all"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class QueueCursor:
    """A position in a queue: the risk segment ("all" unless sorted by urgency) and the row's sort key."""

    segment: str
    at: datetime
    pk: int

    def encode(self) -> str:
        return f"{self.segment}.{(self.at - _EPOCH) // timedelta(microseconds=1)}.{self.pk}"

    @classmethod
    def decode(cls, text: str) -> QueueCursor | None:
        match = re.fullmatch(r"(all|low|medium|high)\.(-?\d{1,19})\.(\d{1,19})", text or "")
        if not match:
            return None
        try:
            at = _EPOCH + timedelta(microseconds=int(match.group(2)))
        except OverflowError:
            return None
        pk = int(match.group(3))
        if not 1 <= pk <= MAX_ID:
            return None
        return cls(segment=match.group(1), at=at, pk=pk)


@dataclass
class QueuePage:
    items: list[Draft]
    next_cursor: str | None = None
    prev_cursor: str | None = None
    count: int | None = None  # None: not counted
    count_capped: bool = False


def _beyond(cursor: QueueCursor, *, descending: bool) -> RawSQL:
    """Rows after the cursor in the walk's direction; a row comparison, so it is one index range."""
    table = Draft._meta.db_table
    op = "<" if descending else ">"
    return RawSQL(
        f'("{table}"."status_changed_at", "{table}"."id") {op} (%s, %s)', (cursor.at, cursor.pk),
        output_field=BooleanField(),
    )


def queue_count(drafts: QuerySet[Draft], cap: int = QUEUE_COUNT_CAP) -> tuple[int, bool]:
    """How many, counting no further than `cap` (shown as "more than 200")."""
    found = drafts.order_by().values("pk")[: cap + 1].count()
    return min(found, cap), found > cap


def queue_page(
    drafts: QuerySet[Draft],
    *,
    sort: str = "newest",
    risk: str = "",
    after: QueueCursor | None = None,
    before: QueueCursor | None = None,
    limit: int = QUEUE_PAGE_SIZE,
    bounded: bool = False,
) -> QueuePage:
    """One page of `drafts` in `sort` order, after (or before) a cursor: at most one query per risk, or
    one in all when the drafts are `bounded` (see QueueSelection)."""
    segments = [r for r in URGENCY if not risk or r == risk] if sort == "urgent" else [ALL_RISKS]
    if bounded and len(segments) > 1:
        return _urgent_in_one_query(drafts, after=after, before=before, limit=limit)
    descending = sort == "newest"
    cursor = before or after
    if cursor is not None and cursor.segment not in segments:
        cursor = None
    backwards = cursor is not None and cursor is before
    start = segments.index(cursor.segment) if cursor else 0
    walk = segments[start::-1] if backwards else segments[start:]
    rows: list[tuple[str, Draft]] = []
    for segment in walk:
        part = drafts if segment == ALL_RISKS else drafts.filter(brief__risk=segment)
        down = descending != backwards
        if cursor is not None and segment == cursor.segment:
            part = part.filter(_beyond(cursor, descending=down))
        order = ("-status_changed_at", "-pk") if down else ("status_changed_at", "pk")
        part = part.select_related("brief").order_by(*order)
        rows.extend((segment, d) for d in part[: limit + 1 - len(rows)])
        if len(rows) > limit:
            break
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards and not more:
        # Back at the start: show a full first page rather than the few rows before the cursor.
        return queue_page(drafts, sort=sort, risk=risk, limit=limit)
    return _page_of(rows, more=more, cursor=cursor, backwards=backwards)


def _page_of(rows: list[tuple[str, Draft]], *, more: bool, cursor: QueueCursor | None, backwards: bool) -> QueuePage:
    if backwards:
        rows.reverse()
    keys = [QueueCursor(segment=s, at=d.status_changed_at, pk=d.pk).encode() for s, d in rows]
    page = QueuePage(items=[d for _, d in rows])
    if keys:
        page.next_cursor = keys[-1] if (more or backwards) else None
        page.prev_cursor = keys[0] if cursor is not None else None
    return page


def _urgent_in_one_query(
    drafts: QuerySet[Draft], *, after: QueueCursor | None, before: QueueCursor | None, limit: int
) -> QueuePage:
    """"Most urgent" for a bounded selection: sorted by (risk, status_changed_at, id) in the database."""
    cursor = before or after
    if cursor is not None and cursor.segment not in URGENCY:
        cursor = None
    backwards = cursor is not None and cursor is before
    urgency = Case(*(When(brief__risk=r, then=Value(i)) for i, r in enumerate(URGENCY)),
                   default=Value(len(URGENCY)), output_field=IntegerField())
    part = drafts.select_related("brief").alias(urgency=urgency)
    if cursor is not None:
        rank = " ".join(f"WHEN '{r}' THEN {i}" for i, r in enumerate(URGENCY))
        table = Draft._meta.db_table
        part = part.filter(RawSQL(
            f'(CASE "editorial_brief"."risk" {rank} ELSE {len(URGENCY)} END, "{table}"."status_changed_at", '
            f'"{table}"."id") {"<" if backwards else ">"} (%s, %s, %s)',
            (URGENCY.index(cursor.segment), cursor.at, cursor.pk), output_field=BooleanField(),
        ))
    order = ("-urgency", "-status_changed_at", "-pk") if backwards else ("urgency", "status_changed_at", "pk")
    rows = [(d.brief.risk, d) for d in part.order_by(*order)[: limit + 1]]
    more = len(rows) > limit
    if backwards and not more:
        return _urgent_in_one_query(drafts, after=None, before=None, limit=limit)
    return _page_of(rows[:limit], more=more, cursor=cursor, backwards=backwards)
