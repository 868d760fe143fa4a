"""The desk queue's view of the review gates: which gates of a draft are open, and to whom, in SQL.

Which gates of a draft are open, and to whom, is decided by governance.gates (`gate_states` and
`get_actions`), one draft at a time in Python. A queue over 100,000 drafts has to filter, sort and page
in the database, so `_open_gate_sql` restates those rules in SQL; tests/test_queue.py checks the two
agree. The gates themselves are a handful of rows: they are read first and written into the SQL as
constants, so each draft costs one look at its brief and at most a few sign-off index probes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from editorial.models import Draft
from governance.models import RISK_ORDER, Gate, Risk

SENT_BACK = (Draft.Status.CHANGES_REQUESTED, Draft.Status.REJECTED)


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


def awaiting(rules: GateRules, gates: list[GateRule], *, requester: Any = None) -> RawSQL:
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
