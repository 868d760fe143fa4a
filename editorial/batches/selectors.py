"""Reads of batches that check access: a brand's members see its batches and their rows; acting on
one needs the right to file briefs for that brand."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from editorial.batches.models import Batch, BatchRow
from editorial.models import Draft
from governance.permissions import brands_for_user
from governance.signoffs import policy_approvals


def batches_for_user(*, user: Any) -> QuerySet[Batch]:
    return Batch.objects.filter(brand__in=brands_for_user(user)).select_related("brand", "template", "created_by")


def batch_get_for_user(*, user: Any, pk: int, action: str = "view") -> Batch:
    """404 when the user is not a member of the batch's brand; 403 when they may see it but not act."""
    batch = batches_for_user(user=user).filter(pk=pk).first()
    if batch is None:
        raise Http404("No such batch.")
    if action != "view" and not user.has_perm("editorial.add_brief"):
        raise PermissionDenied("Your role cannot file briefs, so it cannot run batches.")
    return batch


@dataclass(frozen=True)
class RowState:
    """A state an editor filters a batch's rows by: a row's own status and its draft's, as one."""

    key: str
    label: str
    rows: Q


_drafted = Q(status=BatchRow.Status.FILED)
ROW_STATES: tuple[RowState, ...] = (
    RowState("waiting", "Waiting", Q(status=BatchRow.Status.PENDING)),
    RowState("writing", "Writing", _drafted & Q(draft__status=Draft.Status.GENERATING)),
    RowState("review", "In review", _drafted & Q(draft__status=Draft.Status.IN_REVIEW)),
    RowState("approved", "Approved", _drafted & Q(draft__status=Draft.Status.APPROVED)),
    RowState("published", "Published", _drafted & Q(draft__status=Draft.Status.PUBLISHED)),
    # The pipeline gave up on a section, or waits for a person to approve the outline.
    RowState("human", "Needs a human", _drafted & Q(draft__status__in=[Draft.Status.NEEDS_HUMAN,
                                                                       Draft.Status.OUTLINE_REVIEW])),
    RowState("failed", "Failed", Q(status=BatchRow.Status.REFUSED) | (_drafted & Q(draft__status=Draft.Status.FAILED))),
    RowState("cancelled", "Cancelled", Q(status=BatchRow.Status.CANCELLED)),
    # Sent back, rejected or retracted by a person: the draft's own status says which.
    RowState("other", "Other", _drafted & Q(draft__status__in=[Draft.Status.CHANGES_REQUESTED, Draft.Status.REJECTED,
                                                               Draft.Status.RETRACTED])),
)
ROW_STATE_BY_KEY = {s.key: s for s in ROW_STATES}
ROWS_PER_PAGE = 50
# A draft status → the row state it shows as (rows without a draft: by their own status).
_STATE_OF_DRAFT = {
    Draft.Status.GENERATING: "writing", Draft.Status.IN_REVIEW: "review", Draft.Status.APPROVED: "approved",
    Draft.Status.PUBLISHED: "published", Draft.Status.NEEDS_HUMAN: "human", Draft.Status.OUTLINE_REVIEW: "human",
    Draft.Status.FAILED: "failed",
}
_STATE_OF_ROW = {BatchRow.Status.PENDING: "waiting", BatchRow.Status.REFUSED: "failed",
                 BatchRow.Status.CANCELLED: "cancelled"}


class UnknownRowState(ValueError):
    """A filter that names no row state (a mistyped or stale link)."""


@dataclass
class RowsView:
    """One page of a batch's rows under a state filter, with the count of every state."""

    batch: Batch
    state: RowState | None
    counts: list[tuple[RowState, int]]
    page: Page
    total: int

    @property
    def query(self) -> str:
        """The filter and page as a query string: the live refresh asks for this same page."""
        return _query(self.state.key if self.state else "", self.page.number)

    @property
    def tabs(self) -> list[dict[str, Any]]:
        """"All" and a link per state with its count ("Other" only when some row is)."""
        current = self.state.key if self.state else ""
        tabs = [{"key": "", "label": "All", "count": self.total, "query": "", "current": not current}]
        tabs += [{"key": s.key, "label": s.label, "count": n, "query": _query(s.key, 1), "current": s.key == current}
                 for s, n in self.counts if n or s.key != "other" or s.key == current]
        return tabs

    @property
    def pager(self) -> list[dict[str, Any]]:
        """First / previous / next / last, as the page allows."""
        state, page = (self.state.key if self.state else ""), self.page
        links = []
        if page.has_previous():
            links += [{"key": "first", "label": "First", "rel": "", "query": _query(state, 1)},
                      {"key": "prev", "label": "← Previous", "rel": "prev",
                       "query": _query(state, page.previous_page_number())}]
        if page.has_next():
            links += [{"key": "next", "label": "Next →", "rel": "next", "query": _query(state, page.next_page_number())},
                      {"key": "last", "label": "Last", "rel": "", "query": _query(state, page.paginator.num_pages)}]
        return links


def _query(state: str, page: int) -> str:
    return urlencode([(k, v) for k, v in (("state", state), ("page", page if page > 1 else "")) if v])


def policy_scheduled_drafts(batch: Batch) -> QuerySet[Draft]:
    """The batch's drafts its workflow's policy approved and scheduled (nobody asked: the batch's
    `policy_publish_at`), still waiting for their time. A person's schedule names that person."""
    return Draft.objects.filter(batch_row__batch=batch, status=Draft.Status.APPROVED, publish_at__isnull=False,
                                publish_requested_by__isnull=True)


def batch_row_counts(batch: Batch) -> dict[str, int]:
    """How many rows are in each state, in one query."""
    return batch.rows.aggregate(**{s.key: Count("pk", filter=s.rows) for s in ROW_STATES})


def row_state(row: BatchRow) -> tuple[str, str, str]:
    """(state key, label, reason) of one row; the label names the policy that approved a draft."""
    draft = row.draft if row.status == BatchRow.Status.FILED else None
    if draft is None:
        key = _STATE_OF_ROW.get(row.status, "other")
        return key, ("Refused when filed" if row.status == BatchRow.Status.REFUSED
                     else ROW_STATE_BY_KEY[key].label), row.error
    key = _STATE_OF_DRAFT.get(draft.status, "other")
    label = ROW_STATE_BY_KEY[key].label if key != "other" else draft.get_status_display()
    policy = getattr(row, "approved_by_policy", "")
    if policy and key in ("approved", "published"):
        label = f"{label} by policy {policy}"
    reason = draft.status_reason if key in ("human", "failed", "other") else ""
    return key, label, reason


def row_state_get(state: str) -> RowState | None:
    """The row state a filter names (None for "" : every row); UnknownRowState when it names none."""
    if not state:
        return None
    chosen = ROW_STATE_BY_KEY.get(state)
    if chosen is None:
        raise UnknownRowState(f"No row state “{state}”: choose one of "
                              f"{', '.join(s.label.lower() for s in ROW_STATES)}.")
    return chosen


def rows_describe(rows: list[BatchRow]) -> list[BatchRow]:
    """Give each row (its draft selected with it) `approved_by_policy`, `state_key`, `state_label` and
    `reason`. The policies that approved the drafts come in one query for the rows (a subquery in the
    rows' query would run for every row of the batch before a page is cut)."""
    policies = policy_approvals([r.draft_id for r in rows if r.draft_id])
    for row in rows:
        row.approved_by_policy = policies.get(row.draft_id, "")
        row.state_key, row.state_label, row.reason = row_state(row)
    return rows


def batch_rows_for_user(*, user: Any, pk: int, state: str = "", page: Any = 1) -> RowsView:
    """A page of the batch's rows for someone who may see the batch (404 otherwise). Raises
    UnknownRowState for a filter that names no state."""
    batch = batch_get_for_user(user=user, pk=pk)
    chosen = row_state_get(state)
    counts = batch_row_counts(batch)
    rows = batch.rows.filter(chosen.rows if chosen else Q()).select_related("draft").order_by("number")
    shown = Paginator(rows, ROWS_PER_PAGE, allow_empty_first_page=True)
    shown.count = counts[chosen.key] if chosen else sum(counts.values())  # known already: no COUNT query
    page_obj = shown.get_page(page)
    page_obj.object_list = rows_describe(list(page_obj.object_list))
    return RowsView(batch=batch, state=chosen, counts=[(s, counts[s.key]) for s in ROW_STATES], page=page_obj,
                    total=sum(counts.values()))


@dataclass
class RowsSlice:
    """The rows after a row number under a state filter (the API's pages), with the count of every state."""

    batch: Batch
    state: RowState | None
    counts: dict[str, int]
    rows: list[BatchRow]
    more: bool


def batch_rows_after_for_user(*, user: Any, pk: int, state: str = "", after: int = 0,
                              limit: int = ROWS_PER_PAGE) -> RowsSlice:
    """Up to `limit` rows numbered above `after`, in order, for someone who may see the batch (404
    otherwise). Keyed by row number, so a row that stays in the state is never skipped or repeated
    while others move between states. Raises UnknownRowState like batch_rows_for_user."""
    batch = batch_get_for_user(user=user, pk=pk)
    chosen = row_state_get(state)
    rows = list(batch.rows.filter(chosen.rows if chosen else Q(), number__gt=after).select_related("draft")
                .order_by("number")[: limit + 1])
    return RowsSlice(batch=batch, state=chosen, counts=batch_row_counts(batch), rows=rows_describe(rows[:limit]),
                     more=len(rows) > limit)
