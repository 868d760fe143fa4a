"""Keeps the insights rollups up to date.

`facts_refresh` (beat task `insights.refresh`, every AIOS_INSIGHTS_REFRESH_SECONDS, default 60 s)
reads the audit log past its cursor (the log is append-only and its writers are serialised, so ids
commit in order), copies each audited status move into `StatusChange`, and recomputes the fact rows
of every draft an event names, plus any draft whose status changed since the last pass, then the daily
rollups (`rollups.py`) of the day × key cells those drafts were and are in. Experiment outcomes come in
the same way: each recorded report's audit event names its variant's draft, and the pass also reads the
outcome reports past its own watermark (`FeedCursor.last_outcome_id`; the first pass after an upgrade takes
in every report recorded before), so a late report lands in the figures of the day its brief was filed. A draft's
facts are rebuilt whole from its rows (never incremented), so a pass may run twice harmlessly.
Figures are at most one refresh interval (plus the pass's own time) behind the desk.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Avg, Count, Q, Sum
from django.utils import timezone

from agents.grounding import grounding_summary
from agents.models import AgentRun
from editorial.campaigns.models import OutcomeReport
from editorial.diffs import word_diff
from editorial.insights.metrics import insights_generation_bump
from editorial.insights.models import DraftFact, FeedCursor, FindingFact, GateFact, ReasonFact, StatusChange
from editorial.insights.rollups import KEY_FIELDS, fact_cells, rollups_rebuild
from editorial.models import Draft, Revision
from governance.models import AuditEvent, Finding, FindingOverride, SignOff

S = Draft.Status
FEED_CHUNK = 5000
FACT_BATCH = 500
REASON_CHARS = 60
WORD = re.compile(r"\w+")


def word_count(text: str) -> int:
    return len(WORD.findall(text))


def reason_key(text: str) -> str:
    """Send-back reasons grouped: lower case, spaces folded, first words ("" = no reason given)."""
    words = " ".join(text.lower().split())
    return words[:REASON_CHARS].rstrip(" .,;:") if words else ""


def edit_share(agent_text: str, approved_text: str) -> float:
    """Share of the agent's words changed on the way to the approved text (a replaced word counts once)."""
    if agent_text == approved_text:
        return 0.0
    diff = word_diff(agent_text, approved_text)
    return min(1.0, max(diff.words_added, diff.words_removed) / max(word_count(agent_text), 1))


# --- the feed --------------------------------------------------------------------------------------

def _draft_id(event_data: Any, object_type: str, object_id: str) -> int | None:
    if isinstance(event_data, dict) and isinstance(event_data.get("draft"), int):
        return event_data["draft"]
    if object_type == "editorial.draft" and object_id.isdigit():
        return int(object_id)
    return None


def outcomes_read(*, after: int) -> tuple[int, set[int]]:
    """The drafts of the variants with outcome reports past `after`, and the last report id read."""
    rows = list(OutcomeReport.objects.filter(id__gt=after).values_list("id", "variant__draft_id"))
    return max((pk for pk, _ in rows), default=after), {draft_id for _, draft_id in rows}


def feed_read(*, after: int) -> tuple[int, set[int]]:
    """Copy status moves from audit events past `after`; return the last id read and the drafts named."""
    touched: set[int] = set()
    last = after
    while True:
        events = list(AuditEvent.objects.filter(id__gt=last).order_by("id")
                      .values_list("id", "created_at", "object_type", "object_id", "data")[:FEED_CHUNK])
        if not events:
            return last, touched
        moves = []
        for event_id, at, object_type, object_id, data in events:
            draft_id = _draft_id(data, object_type, object_id)
            if draft_id is None:
                continue
            touched.add(draft_id)
            status = data.get("status") if isinstance(data, dict) else None
            if isinstance(status, list) and len(status) == 2 and status[0] != status[1]:
                moves.append(StatusChange(draft_id=draft_id, audit_id=event_id, at=at, old=status[0], new=status[1]))
        existing = set(Draft.objects.filter(pk__in={m.draft_id for m in moves}).values_list("pk", flat=True))
        StatusChange.objects.bulk_create([m for m in moves if m.draft_id in existing], ignore_conflicts=True)
        last = events[-1][0]


@transaction.atomic
def facts_refresh(*, everything: bool = False) -> int:
    """One pass (see the module's docstring). `everything` rebuilds every draft's facts. Returns the
    number of drafts whose facts were rebuilt."""
    cursor = FeedCursor.objects.select_for_update().filter(pk=1).first() or FeedCursor.objects.create(pk=1)
    started = timezone.now()
    last, touched = feed_read(after=cursor.last_audit_id)
    last_outcome, reported = outcomes_read(after=cursor.last_outcome_id)
    touched |= reported
    if everything:
        touched = set(Draft.objects.values_list("pk", flat=True))
    elif cursor.refreshed_at is not None:
        since = cursor.refreshed_at - timedelta(seconds=5)
        touched |= set(Draft.objects.filter(status_changed_at__gte=since).values_list("pk", flat=True))
    ids = sorted(touched)
    cells: set[tuple[Any, ...]] = set()
    for start in range(0, len(ids), FACT_BATCH):
        batch = ids[start:start + FACT_BATCH]
        cells |= fact_cells(DraftFact.objects.filter(pk__in=batch).values("created_at", *KEY_FIELDS))  # before
        cells |= fact_cells(facts_rebuild(draft_ids=batch))  # after
    rollups_rebuild(cells=None if everything else cells)
    cursor.last_audit_id, cursor.last_outcome_id, cursor.refreshed_at = last, last_outcome, started
    cursor.save(update_fields=["last_audit_id", "last_outcome_id", "refreshed_at"])
    if ids:
        # Now (a page computed meanwhile from the old rows is dropped) and once the rows are visible.
        insights_generation_bump()
        transaction.on_commit(insights_generation_bump)
    return len(ids)


# --- one batch of drafts ---------------------------------------------------------------------------

def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _timeline(moves: list[StatusChange]) -> dict[str, Any]:
    """First time in review / approved / published, the recoveries (failed or needs a human → back in
    review) and whether the draft ever needed a human."""
    first: dict[str, datetime] = {}
    stuck_since: datetime | None = None
    recoveries, recover_s, needs_human = 0, 0.0, False
    for move in moves:
        first.setdefault(move.new, move.at)
        if move.new in (S.FAILED, S.NEEDS_HUMAN):
            needs_human = needs_human or move.new == S.NEEDS_HUMAN
            stuck_since = stuck_since or move.at
        elif move.new == S.IN_REVIEW and stuck_since is not None:
            recoveries += 1
            recover_s += (move.at - stuck_since).total_seconds()
            stuck_since = None
    return {"first": first, "recoveries": recoveries, "recover_s": recover_s, "needs_human": needs_human}


def _grouped(rows: Iterable[Any], key: str) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        out[getattr(row, key) if not isinstance(row, dict) else row[key]].append(row)
    return out


def facts_rebuild(*, draft_ids: list[int]) -> list[DraftFact]:
    """Recompute the facts of these drafts from their runs, revisions, moves, sign-offs and findings,
    in a fixed number of queries per batch."""
    drafts = list(Draft.objects.filter(pk__in=draft_ids).select_related("brief"))
    ids = [d.pk for d in drafts]
    runs = {
        r["draft_id"]: r for r in AgentRun.objects.filter(draft_id__in=ids).values("draft_id").annotate(
            cost=Sum("cost"),
            failed=Count("id", filter=Q(status=AgentRun.Status.FAILED)),
            rewrites=Count("id", filter=Q(kind=AgentRun.Kind.REGENERATE, status=AgentRun.Status.SUCCEEDED)),
            ttft=Avg("ttft_ms", filter=Q(kind=AgentRun.Kind.WRITE, status=AgentRun.Status.SUCCEEDED)),
            tokens=Sum("tokens_out", filter=Q(kind=AgentRun.Kind.WRITE, status=AgentRun.Status.SUCCEEDED)),
            write_ms=Sum("latency_ms", filter=Q(kind=AgentRun.Kind.WRITE, status=AgentRun.Status.SUCCEEDED)),
        )
    }
    first_agent = {
        r.draft_id: r for r in Revision.objects.filter(draft_id__in=ids, author_run__isnull=False)
        .order_by("draft_id", "number").distinct("draft_id").only("draft_id", "content")
    }
    final_ids = {d.pk: d.published_revision_id or d.current_revision_id for d in drafts}
    finals = {r.pk: r for r in Revision.objects.filter(pk__in=[i for i in final_ids.values() if i])
              .only("id", "content", "provenance")}
    moves = _grouped(StatusChange.objects.filter(draft_id__in=ids).order_by("at", "audit_id"), "draft_id")
    signoffs = _grouped(SignOff.objects.filter(draft_id__in=ids).order_by("created_at", "id")
                        .only("draft_id", "gate_id", "decision", "comment", "created_at"), "draft_id")
    findings = _grouped(Finding.objects.filter(revision_id__in=[i for i in final_ids.values() if i])
                        .values("revision_id", "category", "severity", "id"), "revision_id")
    outcomes = {
        r["variant__draft_id"]: r for r in OutcomeReport.objects.filter(variant__draft_id__in=ids)
        .values("variant__draft_id").annotate(impressions=Sum("impressions"), clicks=Sum("clicks"),
                                              conversions=Sum("conversions")).order_by()
    }
    overridden = set(FindingOverride.objects.filter(finding__revision_id__in=[i for i in final_ids.values() if i])
                     .values_list("finding_id", flat=True))

    facts, gates, reasons, categories = [], [], [], []
    for draft in drafts:
        run = runs.get(draft.pk, {})
        outcome = outcomes.get(draft.pk, {})
        line = _timeline(moves.get(draft.pk, []))
        first = line["first"]
        final = finals.get(final_ids[draft.pk])
        agent = first_agent.get(draft.pk)
        approved = S.APPROVED in first or S.PUBLISHED in first or draft.status in (S.APPROVED, S.PUBLISHED)
        published = draft.published_revision_id is not None or S.PUBLISHED in first
        edited = share = None
        if approved and final is not None and agent is not None:
            edited = final.content != agent.content
            share = edit_share(agent.content, final.content)
        grounding = grounding_summary(final.provenance if final else None) or {}
        own_findings = findings.get(final.pk, []) if final else []
        blocking = [f for f in own_findings if f["severity"] == Finding.Severity.BLOCKING]
        fact = DraftFact(
            draft=draft, brand_id=draft.brand_id, model_version_id=draft.model_version_id,
            prompt_version_id=draft.prompt_version_id, template_id=draft.brief.template_id,
            channel=draft.brief.channel, created_at=draft.brief.created_at, status=draft.status,
            generation_s=_seconds(draft.brief.created_at, first.get(S.IN_REVIEW)),
            ttft_ms=run.get("ttft"), write_tokens=run.get("tokens") or 0,
            write_s=(run.get("write_ms") or 0.0) / 1000.0, cost=run.get("cost") or Decimal("0"),
            words=word_count(final.content) if final else 0, approved=approved, published=published,
            edited=edited, edit_share=share, section_rewrites=run.get("rewrites") or 0,
            approval_s=_seconds(first.get(S.IN_REVIEW), first.get(S.APPROVED) or first.get(S.PUBLISHED)),
            to_publish_s=_seconds(draft.brief.created_at, first.get(S.PUBLISHED)),
            send_backs=sum(1 for s in signoffs.get(draft.pk, []) if s.decision == SignOff.Decision.REQUEST_CHANGES),
            rejected=draft.status == S.REJECTED, needs_human=line["needs_human"],
            failed_runs=run.get("failed") or 0, recoveries=line["recoveries"], recover_s=line["recover_s"],
            blocking_findings=len(blocking), overrides=sum(1 for f in blocking if f["id"] in overridden),
            factual_sentences=grounding.get("factual", 0), unsupported=grounding.get("unsupported", 0),
            impressions=outcome.get("impressions") or 0, clicks=outcome.get("clicks") or 0,
            conversions=outcome.get("conversions") or 0,
        )
        facts.append(fact)
        gated: set[int] = set()
        for signoff in signoffs.get(draft.pk, []):
            if signoff.decision == SignOff.Decision.APPROVE and signoff.gate_id not in gated:
                gated.add(signoff.gate_id)
                seconds = _seconds(first.get(S.IN_REVIEW), signoff.created_at)
                if seconds is not None:
                    gates.append(GateFact(fact=fact, gate_id=signoff.gate_id, seconds=max(seconds, 0.0)))
            elif signoff.decision != SignOff.Decision.APPROVE:
                reasons.append(ReasonFact(fact=fact, decision=signoff.decision,
                                          reason=reason_key(signoff.comment or draft.status_reason)))
        counts: dict[str, int] = defaultdict(int)
        for finding in own_findings:
            counts[finding["category"]] += 1
        categories += [FindingFact(fact=fact, category=c, count=n) for c, n in counts.items()]

    fields = [f.name for f in DraftFact._meta.concrete_fields if f.name != "draft"]
    DraftFact.objects.bulk_create(facts, update_conflicts=True, unique_fields=["draft"], update_fields=fields)
    for model in (GateFact, ReasonFact, FindingFact):
        model.objects.filter(fact_id__in=ids).delete()
    GateFact.objects.bulk_create(gates)
    ReasonFact.objects.bulk_create(reasons)
    FindingFact.objects.bulk_create(categories)
    return facts
