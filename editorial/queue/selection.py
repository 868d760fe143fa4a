"""The desk queue: which drafts wait for whom, among those the user may see, filtered and searched;
and what each row of a page shows. Paging is in editorial/queue/paging.py, the gates' SQL in
editorial/queue/gates.py."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import BooleanField, Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from agents.models import ModelVersion, PromptTemplate
from editorial.models import Brief, Draft, Revision
from editorial.queue.gates import GateRule, GateRules, awaiting, gate_rules_for_user, open_gates_for
from editorial.queue.sources import open_flag_counts, sources_changed
from governance.models import Brand
from governance.permissions import DRAFT_ACTIONS, brand_members, brands_for_user, draft_policy
from governance.signoffs import policy_approvals, policy_approved

SLA_AMBER = timedelta(hours=24)
SLA_RED = timedelta(hours=72)

FINISHED = (Draft.Status.PUBLISHED, Draft.Status.REJECTED, Draft.Status.RETRACTED)
# Everything but what is out of the door; "my queue" is drawn from these (see `draft_open_waiting_idx`).
OPEN = tuple(s for s in Draft.Status.values if s not in (Draft.Status.PUBLISHED, Draft.Status.RETRACTED))
# Statuses in which the item waits for a person; only these get an SLA colour.
WAITING = (Draft.Status.NEEDS_HUMAN, Draft.Status.IN_REVIEW, Draft.Status.CHANGES_REQUESTED, Draft.Status.FAILED,
           Draft.Status.OUTLINE_REVIEW)


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
    sources: str = ""  # "changed": a knowledge document it rests on changed since its last approval
    approved_by: str = ""  # "policy": its current revision was approved by a workflow's policy, not a person


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
            Q(awaiting(rules, rules.signable(), requester=user)) | (Q(assignee=user) & ~Q(status__in=FINISHED))
            | _outline_to_approve(user)
        )
    elif tab.startswith("gate-"):
        gate_id = int(tab.removeprefix("gate-"))
        drafts = drafts.filter(awaiting(rules, [r for r in rules.rules if r.id == gate_id]))
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
    if filters.sources == "changed":
        drafts = drafts.filter(sources_changed())
    if filters.approved_by == "policy":
        drafts = drafts.filter(policy_approved())
    bounded = False
    if filters.q:
        condition, bounded = _search(filters.q)
        drafts = drafts.filter(condition)
    return QueueSelection(drafts=drafts, bounded=bounded)


def _outline_to_approve(user: Any) -> Q:
    """An outline waits for the brand's editors and for the brief's requester (agents/outline.py)."""
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
    waiting at the current step with its SLA colour, who is reviewing it, and the approval policy that
    signed it instead of a person."""
    now = now or timezone.now()
    gates = open_gates_for([d.pk for d in drafts], options.rules)
    flags = open_flag_counts([d.pk for d in drafts])
    policies = policy_approvals([d.pk for d in drafts])
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
        draft.sources_changed = flags.get(draft.pk, 0)
        draft.approved_by_policy = policies.get(draft.pk, "")
