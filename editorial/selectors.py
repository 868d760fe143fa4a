"""Reads that check access. Views, the API and WebSocket consumers all come through here."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import BooleanField, Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone

from agents.models import AgentRun, ModelVersion, PromptTemplate
from editorial.models import Brief, Draft, Revision
from governance.models import RISK_ORDER, Brand, Gate, Risk
from governance.permissions import DRAFT_ACTIONS, brand_members, brands_for_user, draft_policy


def drafts_for_user(*, user: Any, status: str | None = None) -> QuerySet[Draft]:
    qs = draft_policy.instances_user_has_permission_for(user, "view", Draft.objects.all())
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("brief", "brand", "assignee", "brief__requested_by").order_by("-created_at")


def draft_get_for_user(*, user: Any, pk: int, action: str = "view") -> Draft:
    """404 when the user may not see the draft (its existence is not revealed); 403 when they
    may see it but not do `action`."""
    draft = (
        Draft.objects.select_related(
            "brief__brand", "brief__template", "brief__requested_by", "brand", "current_revision",
            "model_version", "prompt_version__template", "workflow",
        )
        .filter(pk=pk)
        .first()
    )
    if draft is None or not draft_policy.user_has_permission_for_instance(user, "view", draft):
        raise Http404("No such draft.")
    if action != "view" and not draft_policy.user_has_permission_for_instance(user, action, draft):
        raise PermissionDenied(f"You may not {action} this draft.")
    return draft


def revision_get_for_draft(*, draft: Draft, pk: int | str | None) -> Revision:
    try:
        return draft.revisions.get(pk=int(pk))
    except (TypeError, ValueError, Revision.DoesNotExist) as exc:
        raise Http404("No such revision of this draft.") from exc


def live_snapshot(draft: Draft) -> dict[str, Any]:
    """What the writer has streamed so far (from its checkpoint rows), plus step statuses."""
    runs = list(draft.runs.exclude(kind=AgentRun.Kind.SHADOW).order_by("created_at", "id"))
    steps = {}
    for run in runs:  # the latest run of each kind wins
        steps[run.kind] = {"status": run.status, "error": run.error, "run": run.pk}
    writer = next((r for r in reversed(runs) if r.kind == AgentRun.Kind.WRITE), None)
    sections = []
    tokens = 0
    total = len(draft.prompt_version.sections) if draft.prompt_version else 0
    plan = next((r for r in reversed(runs) if r.kind == AgentRun.Kind.PLAN and r.status == AgentRun.Status.SUCCEEDED),
                None)
    if plan is not None and plan.output.get("sections"):  # regen: an approved outline may differ from the template
        total = len(plan.output["sections"])
    if writer is not None:
        for s in writer.sections.all():
            sections.append({"index": s.index, "heading": s.heading, "text": s.text, "done": s.done})
            tokens += s.tokens_out if s.done else 0
    return {
        "draft": draft.pk,
        "status": draft.status,
        "reason": draft.status_reason,
        "steps": steps,
        "sections": sections,
        "sections_total": total,
        "sections_done": sum(1 for s in sections if s["done"]),
        "tokens": tokens,
    }


# --- the desk queue --------------------------------------------------------------------------------
#
# Which gates of a draft are open, and to whom, is decided by governance.gates (`gate_states` and
# `get_actions`), one draft at a time in Python. A queue over 100,000 drafts has to filter, sort and page
# in the database, so `_open_gate_sql` restates those rules in SQL; tests/test_queue.py checks the two
# agree. The gates themselves are a handful of rows: they are read first and written into the SQL as
# constants, so each draft costs one look at its brief and at most a few sign-off index probes. Paging is
# by keyset on (status_changed_at, id), so a deep page costs what the first one does, and counts are
# capped, so a badge never counts a whole table.

SLA_AMBER = timedelta(hours=24)
SLA_RED = timedelta(hours=72)
QUEUE_PAGE_SIZE = 25
QUEUE_COUNT_CAP = 200

FINISHED = (Draft.Status.PUBLISHED, Draft.Status.REJECTED, Draft.Status.RETRACTED)
# Everything but what is out of the door; "my queue" is drawn from these (see `draft_open_waiting_idx`).
OPEN = tuple(s for s in Draft.Status.values if s not in (Draft.Status.PUBLISHED, Draft.Status.RETRACTED))
SENT_BACK = (Draft.Status.CHANGES_REQUESTED, Draft.Status.REJECTED)
# Statuses in which the item waits for a person; only these get an SLA colour.
WAITING = (Draft.Status.NEEDS_HUMAN, Draft.Status.IN_REVIEW, Draft.Status.CHANGES_REQUESTED, Draft.Status.FAILED,
           Draft.Status.OUTLINE_REVIEW)  # regen
SORTS = {"urgent": "Most urgent", "oldest": "Oldest", "newest": "Newest"}
# "Most urgent": high risk first, then the longest waiting. Each risk is paged on its own, so every
# page is a walk down the (status_changed_at, id) index rather than a sort of the whole queue.
URGENCY = (Risk.HIGH.value, Risk.MEDIUM.value, Risk.LOW.value)
ALL_RISKS = "all"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class GateRule:
    """One gate, as the queue's SQL needs it."""

    id: int
    name: str
    group_id: int
    workflow_id: int
    workflow_name: str
    workflow_brand_id: int | None
    workflow_active: bool
    stage: int
    hard: bool
    reapprove: bool
    channels: tuple[str, ...]
    risks: tuple[str, ...]  # the risks at or above its minimum
    categories: tuple[str, ...]


@dataclass
class GateRules:
    """Every gate of every workflow (drafts keep theirs), and the groups the user is in."""

    rules: list[GateRule]
    group_ids: set[int]

    def signable(self) -> list[GateRule]:
        return [r for r in self.rules if r.group_id in self.group_ids]


def gate_rules_for_user(user: Any) -> GateRules:
    rules = [
        GateRule(
            id=gate.pk, name=gate.name, group_id=gate.group_id, workflow_id=gate.stage.workflow_id,
            workflow_name=gate.stage.workflow.name, workflow_brand_id=gate.stage.workflow.brand_id,
            workflow_active=gate.stage.workflow.is_active, stage=gate.stage.order, hard=gate.kind == Gate.Kind.HARD,
            reapprove=gate.reapprove_on_change, channels=tuple(gate.channels or ()),
            risks=tuple(r.value for r, rank in RISK_ORDER.items() if rank >= RISK_ORDER[gate.min_risk]),
            categories=tuple(gate.finding_categories or ()),
        )
        for gate in Gate.objects.select_related("stage__workflow").order_by("stage__workflow_id", "stage__order", "id")
    ]
    group_ids = set(user.groups.values_list("pk", flat=True)) if user.is_authenticated else set()
    return GateRules(rules=rules, group_ids=group_ids)


def _latest_signoff_sql(rule: GateRule, draft: str) -> str:
    """The latest decision at the gate on the draft, on any revision: what gate_states() starts from."""
    # Sign-offs on revisions before a send-back to review (a `review_reset` revision, see
    # agents.modelops.drafts_send_back) do not count, as in gate_states().
    return (
        f"SELECT so.decision, so.revision_id FROM governance_signoff so WHERE so.draft_id = {draft}.id "
        f"AND so.gate_id = {int(rule.id)} AND NOT EXISTS (SELECT 1 FROM editorial_revision rr "
        f"JOIN editorial_revision sr ON sr.id = so.revision_id WHERE rr.draft_id = {draft}.id "
        "AND rr.number > sr.number AND (rr.provenance -> 'review_reset') IS NOT NULL) "
        "ORDER BY so.created_at DESC, so.id DESC LIMIT 1"
    )


def _applies_sql(rule: GateRule, draft: str, brief: str) -> tuple[str, list[Any]]:
    """`_why_gate_applies`: the brief's channel, then its risk or a finding category of the current revision."""
    parts, params = [], []
    if rule.channels:
        parts.append(f"{brief}.channel = ANY(%s)")
        params.append(list(rule.channels))
    because = []
    if set(rule.risks) != set(Risk.values):
        because.append(f"{brief}.risk = ANY(%s)")
        params.append(list(rule.risks))
    else:
        because.append("true")
    if rule.categories:
        because.append(f"EXISTS (SELECT 1 FROM governance_finding f WHERE f.revision_id = {draft}.current_revision_id "
                       "AND f.category = ANY(%s))")
        params.append(list(rule.categories))
    parts.append("(" + " OR ".join(because) + ")")
    return " AND ".join(parts), params


def _approved_sql(rule: GateRule, draft: str) -> str:
    """An approval counts on the current revision, or on any one for a gate that edits do not re-open."""
    on_current = f" AND l.revision_id = {draft}.current_revision_id" if rule.reapprove else ""
    return f"EXISTS (SELECT 1 FROM ({_latest_signoff_sql(rule, draft)}) l WHERE l.decision = 'approve'{on_current})"


def _pending_sql(rule: GateRule, draft: str) -> str:
    """Never decided; or changes were requested (or, for a gate that edits re-open, it was approved) on an
    older revision than the current one."""
    reopen = "('request_changes', 'approve')" if rule.reapprove else "('request_changes')"
    return (
        f"NOT EXISTS (SELECT 1 FROM ({_latest_signoff_sql(rule, draft)}) l WHERE NOT "
        f"(l.revision_id IS DISTINCT FROM {draft}.current_revision_id AND l.decision IN {reopen}))"
    )


def _open_gate_sql(rule: GateRule, rules: list[GateRule], draft: str, brief: str) -> tuple[str, list[Any]]:
    """True when the gate is pending on the draft and not waiting: every applicable hard gate of an earlier
    stage is approved. gate_states() calls that "pending"; get_actions() then offers its buttons to
    members of the gate's group (while the draft is in review)."""
    applies, params = _applies_sql(rule, draft, brief)
    terms = [f"{draft}.workflow_id = {int(rule.workflow_id)}", applies, _pending_sql(rule, draft)]
    for earlier in rules:
        if earlier.workflow_id == rule.workflow_id and earlier.hard and earlier.stage < rule.stage:
            earlier_applies, earlier_params = _applies_sql(earlier, draft, brief)
            terms.append(f"(NOT ({earlier_applies}) OR {_approved_sql(earlier, draft)})")
            params += earlier_params
    return "(" + " AND ".join(terms) + ")", params


def _awaiting(rules: GateRules, gates: list[GateRule], *, requester: Any = None) -> RawSQL:
    """Drafts in review on which one of `gates` is open; with `requester`, also their briefs' drafts that
    were sent back. One probe of the draft's brief per row: PostgreSQL cannot turn this EXISTS into a
    hashed set (its conditions reach back into the draft row), so it costs nothing for rows that fail
    the status check before it, and stops early when the queue walks its index."""
    draft = Draft._meta.db_table
    terms, params = [], []
    for rule in gates:
        sql, rule_params = _open_gate_sql(rule, rules.rules, draft, "b")
        terms.append(sql)
        params += rule_params
    branches, statuses = [], []
    if terms:
        branches.append(f"({draft}.status = 'in_review' AND ({' OR '.join(terms)}))")
        statuses.append(Draft.Status.IN_REVIEW)
    if requester is not None:
        branches.append(f"({draft}.status IN ('changes_requested', 'rejected') AND b.requested_by_id = %s)")
        statuses += SENT_BACK
        params.append(requester.pk)
    if not branches:
        return RawSQL("false", [], output_field=BooleanField())
    listed = ", ".join(f"'{status}'" for status in statuses)
    sql = (
        f"{draft}.status IN ({listed}) AND EXISTS (SELECT 1 FROM editorial_brief b WHERE b.id = {draft}.brief_id "
        f"AND ({' OR '.join(branches)}))"
    )
    return RawSQL(sql, params, output_field=BooleanField())


def open_gates_for(draft_ids: list[int], rules: GateRules) -> dict[int, list[GateRule]]:
    """The open gates of each draft in review (for the queue's rows), in stage order: one query."""
    if not draft_ids or not rules.rules:
        return {}
    columns, params = [], []
    for rule in rules.rules:
        sql, rule_params = _open_gate_sql(rule, rules.rules, "d", "b")
        columns.append(sql)
        params += rule_params
    query = (
        f"SELECT d.id, {', '.join(columns)} FROM editorial_draft d JOIN editorial_brief b ON b.id = d.brief_id "
        "WHERE d.id = ANY(%s) AND d.status = 'in_review'"
    )
    found: dict[int, list[GateRule]] = {}
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, list(draft_ids)])
        for draft_id, *flags in cursor.fetchall():
            found[draft_id] = [rule for rule, is_open in zip(rules.rules, flags) if is_open]
    return found


@dataclass
class QueueFilters:
    status: str = ""
    channel: str = ""
    risk: str = ""
    template: str = ""  # template slug
    model: int | None = None  # model version id
    brand: str = ""  # brand slug
    assignee: str = ""  # a username, or "none" for nobody
    older_than_hours: int | None = None  # waiting at the current status longer than this
    newer_than_hours: int | None = None  # … or at most this long
    q: str = ""  # full-text search over the title and the current revision's text


@dataclass
class QueueOptions:
    """What the user may pick from (their brands, the gates they sign: one tab each, …), and the gates."""

    brands: list[Brand]
    gates: list[GateRule]
    templates: list[PromptTemplate]
    models: list[ModelVersion]
    people: list[Any]
    rules: GateRules


def queue_options_for_user(user: Any) -> QueueOptions:
    brands = list(brands_for_user(user))
    rules = gate_rules_for_user(user)
    brand_ids = {b.pk for b in brands}
    gates = [
        r for r in rules.signable()
        if r.workflow_active and (r.workflow_brand_id is None or r.workflow_brand_id in brand_ids)
    ]
    return QueueOptions(
        brands=brands,
        gates=gates,
        templates=list(PromptTemplate.objects.order_by("name")),
        models=list(ModelVersion.objects.order_by("name")),
        people=brand_members(brands),
        rules=rules,
    )


def gate_tab_label(gate: GateRule, gates: list[GateRule]) -> str:
    """The gate's name, and its workflow's when two workflows both have, say, an "Editorial" gate."""
    if sum(1 for g in gates if g.name == gate.name) == 1:
        return gate.name
    return f"{gate.name} · {gate.workflow_name}"


@dataclass
class QueueSelection:
    drafts: QuerySet[Draft]
    # The rows are among a list of ids found up front (a search for a rare word): few enough to sort in
    # one query, rather than walking the index once per risk level.
    bounded: bool = False


def queue_drafts_for_user(
    *, user: Any, tab: str = "mine", filters: QueueFilters | None = None, rules: GateRules | None = None
) -> QuerySet[Draft]:
    """The drafts of a queue tab, filtered, among those `user` may see (unordered; see `queue_page`).

    `tab` is "mine" (waiting for something this user may do: a gate they sign is open, it is assigned
    to them, or it was sent back on a brief of theirs), "all", or "gate-<id>" (that gate's team queue;
    the caller checks it is one of the user's gates)."""
    return queue_select(user=user, tab=tab, filters=filters, rules=rules).drafts


def queue_select(
    *, user: Any, tab: str = "mine", filters: QueueFilters | None = None, rules: GateRules | None = None
) -> QueueSelection:
    """`queue_drafts_for_user`, saying also whether the selection is a bounded list (see QueueSelection)."""
    filters = filters or QueueFilters()
    drafts = draft_policy.instances_user_has_permission_for(user, "view", Draft.objects.all())
    if tab != "all":
        rules = rules or gate_rules_for_user(user)
    if tab == "mine":
        # The first condition is implied by the others; it lets PostgreSQL walk the index of open items.
        drafts = drafts.filter(status__in=OPEN).filter(
            Q(_awaiting(rules, rules.signable(), requester=user)) | (Q(assignee=user) & ~Q(status__in=FINISHED))
            | _outline_to_approve(user)
        )
    elif tab.startswith("gate-"):
        gate_id = int(tab.removeprefix("gate-"))
        drafts = drafts.filter(_awaiting(rules, [r for r in rules.rules if r.id == gate_id]))
    if filters.status:
        drafts = drafts.filter(status=filters.status)
    if filters.channel:
        drafts = drafts.filter(brief__channel=filters.channel)
    if filters.risk:
        drafts = drafts.filter(brief__risk=filters.risk)
    if filters.template:
        drafts = drafts.filter(brief__template__slug=filters.template)
    if filters.model is not None:
        drafts = drafts.filter(model_version_id=filters.model)
    if filters.brand:
        drafts = drafts.filter(brand__slug=filters.brand)
    if filters.assignee == "none":
        drafts = drafts.filter(assignee__isnull=True)
    elif filters.assignee:
        drafts = drafts.filter(assignee__username=filters.assignee)
    if filters.older_than_hours is not None:
        drafts = drafts.filter(status_changed_at__lte=timezone.now() - timedelta(hours=filters.older_than_hours))
    if filters.newer_than_hours is not None:
        drafts = drafts.filter(status_changed_at__gte=timezone.now() - timedelta(hours=filters.newer_than_hours))
    bounded = False
    if filters.q:
        condition, bounded = _search(filters.q)
        drafts = drafts.filter(condition)
    return QueueSelection(drafts=drafts, bounded=bounded)


def _outline_to_approve(user: Any) -> Q:
    """regen: an outline waits for the brand's editors and for the brief's requester (agents/outline.py)."""
    waiting = Q(status=Draft.Status.OUTLINE_REVIEW)
    if user.has_perm(DRAFT_ACTIONS["edit"]):  # the edit permission of DraftPolicy, within their brands
        return waiting  # (the queue's `drafts` hold only the brands they work on)
    return waiting & Q(Exists(Brief.objects.filter(pk=OuterRef("brief_id"), requested_by=user)))


# Above this many matching revisions (PostgreSQL's own estimate) a word counts as common; see `_search`.
SEARCH_COMMON_ABOVE = 20_000


def _search(text: str) -> tuple[Q, bool]:
    """The title or the current revision's text matches (PostgreSQL full-text search, English).

    Titles have a GIN expression index (`draft_title_search`); texts the stored `Revision.search`
    vector and its GIN index, over every revision (a revision never changes, so nothing has to keep it
    up to date). Two shapes, chosen by the planner's estimate of how many revisions match:

    * a rare word: read both indexes once, here, into the list of matching draft ids; the page and
      the count then filter by that list instead of searching again;
    * a common word: a correlated EXISTS on the current revision, so the queue walks its index in
      order and tests each draft's stored vector until the page is full (reading the index would
      mean hashing most of the table).
    """
    query = SearchQuery(text, config="english", search_type="websearch")
    titles = Draft.objects.alias(sv=SearchVector("title", config="english")).filter(sv=query).order_by()
    texts = Revision.objects.filter(search=query).order_by()
    if _estimated_rows(titles.values("pk").union(texts.values("pk"), all=True)) > SEARCH_COMMON_ABOVE:
        return Q(pk__in=titles.values("pk")) | Q(Exists(texts.filter(pk=OuterRef("current_revision_id")))), False
    current = texts.filter(pk=F("draft__current_revision_id")).values_list("draft_id", flat=True)
    ids = list(titles.values_list("pk", flat=True).union(current))
    return Q(RawSQL(f'"{Draft._meta.db_table}"."id" = ANY(%s)', [ids], output_field=BooleanField())), True


def _estimated_rows(queryset: QuerySet) -> float:
    """How many rows PostgreSQL expects `queryset` to return (its plan estimate; nothing is run)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


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
        return cls(segment=match.group(1), at=at, pk=int(match.group(3)))


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


def age_label(waited: timedelta) -> str:
    minutes = max(int(waited.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def queue_annotate(drafts: list[Draft], *, user: Any, options: QueueOptions, now: datetime | None = None) -> None:
    """What each row shows besides its fields: brand, template, model, people (from the options already
    loaded, rather than five more joins per page), open gates and which of them the user signs, time
    waiting at the current step with its SLA colour, and who is reviewing it."""
    now = now or timezone.now()
    gates = open_gates_for([d.pk for d in drafts], options.rules)
    brands = {b.pk: b for b in options.brands}
    templates = {t.pk: t for t in options.templates}
    models = {m.pk: m for m in options.models}
    people = {p.pk: p for p in options.people}
    wanted = {d.brief.requested_by_id for d in drafts} | {d.assignee_id for d in drafts if d.assignee_id}
    if wanted - people.keys():  # people who have left, or superusers from outside the brand
        people.update({p.pk: p for p in get_user_model().objects.filter(pk__in=wanted - people.keys())})
    for draft in drafts:
        if draft.brand_id in brands:
            draft.brand = brands[draft.brand_id]
        if draft.brief.template_id in templates:
            draft.brief.template = templates[draft.brief.template_id]
        if draft.model_version_id in models:
            draft.model_version = models[draft.model_version_id]
        draft.brief.requested_by = people[draft.brief.requested_by_id]
        if draft.assignee_id:
            draft.assignee = people[draft.assignee_id]
        draft.open_gates = [
            {"id": g.id, "name": g.name, "yours": g.group_id in options.rules.group_ids}
            for g in gates.get(draft.pk, [])
        ]
        draft.waited = now - draft.status_changed_at
        draft.age = age_label(draft.waited)
        draft.sla = ""
        if draft.status in WAITING:
            draft.sla = "red" if draft.waited >= SLA_RED else "amber" if draft.waited >= SLA_AMBER else "ok"
        draft.claimed_by_me = draft.assignee_id == user.pk
