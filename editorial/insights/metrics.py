"""The insights figures: aggregates over the fact rows (`models.py`), for a user's brands, filtered and
sliced. A page of figures costs the same handful of queries whatever the number of drafts.

Each figure is defined once in `METRICS` (key, label, unit, how it is computed from fact columns), so
the page, the API, the comparison and the CSV all say the same thing."""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Aggregate, Avg, BinaryField, Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncWeek
from django.utils import timezone

from editorial.insights.models import (
    DayFindingRollup, DayGateRollup, DayReasonRollup, DayRollup, DraftFact, FindingFact, GateFact, ReasonFact,
)
from editorial.insights.rollups import HISTOGRAMS, histogram_dense, histogram_percentile
from governance.models import Brand, Channel
from governance.permissions import brands_for_user

log = logging.getLogger(__name__)
INSIGHTS_PERM = "insights.view_insights"
# Figures change only when a refresh pass has run: a computed page is kept under the pass's generation
# (bumped by every pass), so a repeated view costs a cache read and is never staler than the rollups.
GENERATION_KEY = "insights:generation"
CACHE_SECONDS = 3600
# Who edits drafts (the desk's "edit" action) sees the insights of their brands; brand leads get
# `insights.view_insights` through their group; staff see all of theirs.
EDITOR_PERM = "editorial.add_revision"
DIMENSIONS = {
    "model_version": ("model_version_id", "model_version__name"),
    "prompt_version": ("prompt_version_id", "prompt_version__template__name", "prompt_version__number"),
    "brand": ("brand_id", "brand__name"),
    "channel": ("channel",),
    "template": ("template_id", "template__name"),
}
INTERVALS = {"day": TruncDay, "week": TruncWeek}
DEFAULT_DAYS = 90


class Percentile(Aggregate):
    function = "PERCENTILE_CONT"
    name = "percentile"
    template = "%(function)s(%(q)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, q: float, **extra: Any) -> None:
        super().__init__(expression, q=q, **extra)


def _ratio(num: Any, den: Any, scale: float = 1.0) -> float | None:
    if num is None or not den:
        return None
    return float(num) / float(den) * scale


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    group: str
    unit: str  # "s", "ms", "$", "%", "per draft", "tokens/s", "per $1,000", "count"
    # how a comparison treats it: "share" (a per-draft yes/no), "ratio" (sum of a column over sum of another),
    # "p50"/"p95" (a percentile of a per-draft value), "mean", "rate" (events over trials pooled across
    # drafts: clicks per impression) or "total" (a sum that grows with volume: shown, not tested)
    kind: str
    column: str = ""
    over: str = ""  # ratio/share/rate: the denominator column ("" = one per draft in the group); total: the
    # column whose non-zero drafts are counted as n
    where: str = ""  # share/mean: only drafts where this column is not null / true
    scale: float = 1.0
    lower_is_better: bool = True
    counted: str = "drafts"  # the figure saying how many drafts are behind it (alerts' minimum)


OUTCOMES = "Outcomes"
METRICS: list[Metric] = [
    Metric("generation_p50_s", "Generation, brief → review (p50)", "Speed", "s", "p50", "generation_s"),
    Metric("generation_p95_s", "Generation, brief → review (p95)", "Speed", "s", "p95", "generation_s"),
    Metric("generation_p99_s", "Generation, brief → review (p99)", "Speed", "s", "p99", "generation_s"),
    Metric("ttft_ms", "Time to first token (mean)", "Speed", "ms", "mean", "ttft_ms"),
    Metric("tokens_per_s", "Tokens per second", "Speed", "tokens/s", "ratio", "write_tokens", over="write_s",
           lower_is_better=False),
    Metric("cost_per_draft", "Cost per draft", "Cost", "$", "ratio", "cost"),
    Metric("cost_per_published", "Cost per published piece (all drafts' cost)", "Cost", "$", "ratio", "cost",
           over="published"),
    Metric("published_per_1000_usd", "Published pieces per $1,000", "Cost", "per $1,000", "ratio", "published",
           over="cost", scale=1000.0, lower_is_better=False),
    Metric("edit_rate", "Edit rate (approved text differs)", "Editing", "%", "share", "edited", where="edited"),
    Metric("edit_distance", "Edit distance (share of words changed)", "Editing", "%", "mean", "edit_share"),
    Metric("section_rewrites", "Section rewrites per draft", "Editing", "per draft", "ratio", "section_rewrites"),
    Metric("approval_p50_s", "Approval latency, in review → approved (p50)", "Review", "s", "p50", "approval_s"),
    Metric("approval_p95_s", "Approval latency, in review → approved (p95)", "Review", "s", "p95", "approval_s"),
    Metric("to_publish_p50_s", "Brief → published (p50)", "Review", "s", "p50", "to_publish_s"),
    Metric("send_back_rate", "Send-back rate", "Review", "%", "share", "sent_back", where="reviewed"),
    Metric("rejection_rate", "Rejection rate", "Review", "%", "share", "rejected", where="reviewed"),
    Metric("needs_human_rate", "Needs-a-human rate", "Escalations", "%", "share", "needs_human"),
    Metric("failed_runs_per_draft", "Failed runs per draft", "Escalations", "per draft", "ratio", "failed_runs"),
    Metric("mttr_s", "Mean time to recover", "Escalations", "s", "ratio", "recover_s", over="recoveries"),
    Metric("findings_per_1000_words", "Policy findings per 1,000 words", "Findings", "per 1,000 words", "ratio",
           "finding_count", over="words", scale=1000.0),
    Metric("override_rate", "Override rate (blocking findings)", "Findings", "%", "ratio", "overrides",
           over="blocking_findings"),
    Metric("unsupported_rate", "Unsupported-claim rate", "Findings", "%", "ratio", "unsupported",
           over="factual_sentences"),
    # What readers did with the variants of experiments, as the CMS reported it (each report once), by the
    # variant draft's provenance: the model and prompt version that wrote it.
    Metric("impressions", "Impressions", OUTCOMES, "count", "total", "impressions", over="impressions",
           lower_is_better=False, counted="outcome_drafts"),
    Metric("clicks", "Clicks", OUTCOMES, "count", "total", "clicks", over="impressions",
           lower_is_better=False, counted="outcome_drafts"),
    Metric("conversions", "Conversions", OUTCOMES, "count", "total", "conversions", over="impressions",
           lower_is_better=False, counted="outcome_drafts"),
    Metric("click_through_rate", "Click-through rate (clicks per impression)", OUTCOMES, "%", "rate", "clicks",
           over="impressions", lower_is_better=False, counted="outcome_drafts"),
    Metric("conversion_rate", "Conversion rate (conversions per impression)", OUTCOMES, "%", "rate", "conversions",
           over="impressions", lower_is_better=False, counted="outcome_drafts"),
]
METRIC_KEYS = [m.key for m in METRICS]


@dataclass
class Filters:
    brands: list[int]
    start: date
    end: date
    model_version: int | None = None
    prompt_version: int | None = None
    channel: str = ""
    template: int | None = None
    interval: str = "day"
    by: str = "model_version"
    extra: dict[str, Any] = field(default_factory=dict)


def insights_brands_for_user(user: Any) -> QuerySet[Brand]:
    """The brands whose figures `user` may see; PermissionDenied if their role sees no insights."""
    if not (user and user.is_authenticated and user.is_active):
        raise PermissionDenied("Sign in to see insights.")
    if not (user.is_staff or user.has_perm(EDITOR_PERM) or user.has_perm(INSIGHTS_PERM)):
        raise PermissionDenied("Insights are for editors, brand leads and admins.")
    return brands_for_user(user)


def default_period() -> tuple[date, date]:
    today = timezone.localdate()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def facts_for(filters: Filters) -> QuerySet[DraftFact]:
    tz = timezone.get_current_timezone()
    facts = DraftFact.objects.filter(
        brand_id__in=filters.brands,
        created_at__gte=datetime.combine(filters.start, time.min, tzinfo=tz),
        created_at__lt=datetime.combine(filters.end + timedelta(days=1), time.min, tzinfo=tz),
    )
    if filters.model_version:
        facts = facts.filter(model_version_id=filters.model_version)
    if filters.prompt_version:
        facts = facts.filter(prompt_version_id=filters.prompt_version)
    if filters.channel:
        facts = facts.filter(channel=filters.channel)
    if filters.template:
        facts = facts.filter(template_id=filters.template)
    return facts


def rollup_aggregates() -> dict[str, Any]:
    """SQL aggregates of one group of facts; `figures` turns them into the metrics."""
    reviewed = Q(generation_s__isnull=False)
    return {
        "a_drafts": Count("pk"),
        "a_reviewed": Count("pk", filter=reviewed),
        "a_published": Count("pk", filter=Q(published=True)),
        "a_approved": Count("pk", filter=Q(approved=True)),
        "a_gen_p50": Percentile("generation_s", 0.5), "a_gen_p95": Percentile("generation_s", 0.95),
        "a_gen_p99": Percentile("generation_s", 0.99),
        "a_ttft": Avg("ttft_ms"), "a_tokens": Sum("write_tokens"), "a_write_s": Sum("write_s"),
        "a_cost": Sum("cost"),
        "a_edited": Count("pk", filter=Q(edited=True)), "a_edit_n": Count("edited"),
        "a_edit_share": Avg("edit_share"), "a_rewrites": Sum("section_rewrites"),
        "a_appr_p50": Percentile("approval_s", 0.5), "a_appr_p95": Percentile("approval_s", 0.95),
        "a_pub_p50": Percentile("to_publish_s", 0.5),
        "a_sent_back": Count("pk", filter=reviewed & Q(send_backs__gt=0)),
        "a_rejected": Count("pk", filter=reviewed & Q(rejected=True)),
        "a_needs_human": Count("pk", filter=Q(needs_human=True)),
        "a_failed_runs": Sum("failed_runs"), "a_recoveries": Sum("recoveries"), "a_recover_s": Sum("recover_s"),
        "a_words": Sum("words"), "a_blocking": Sum("blocking_findings"), "a_overrides": Sum("overrides"),
        "a_factual": Sum("factual_sentences"), "a_unsupported": Sum("unsupported"),
        "a_outcome_drafts": Count("pk", filter=Q(impressions__gt=0)), "a_impressions": Sum("impressions"),
        "a_clicks": Sum("clicks"), "a_conversions": Sum("conversions"),
    }


def figures(row: dict[str, Any], findings: int | None = None) -> dict[str, Any]:
    """The metrics of one group from its aggregates (`findings`: that group's finding count)."""
    n = row["a_drafts"]
    cost = float(row["a_cost"] or 0)
    return {
        "drafts": n, "published": row["a_published"], "approved": row["a_approved"], "cost_total": round(cost, 6),
        "generation_p50_s": row["a_gen_p50"], "generation_p95_s": row["a_gen_p95"], "generation_p99_s": row["a_gen_p99"],
        "ttft_ms": row["a_ttft"], "tokens_per_s": _ratio(row["a_tokens"], row["a_write_s"]),
        "cost_per_draft": _ratio(cost, n), "cost_per_published": _ratio(cost, row["a_published"]),
        "published_per_1000_usd": _ratio(row["a_published"], cost, 1000.0),
        "edit_rate": _ratio(row["a_edited"], row["a_edit_n"]), "edit_distance": row["a_edit_share"],
        "section_rewrites": _ratio(row["a_rewrites"], n),
        "approval_p50_s": row["a_appr_p50"], "approval_p95_s": row["a_appr_p95"], "to_publish_p50_s": row["a_pub_p50"],
        "send_back_rate": _ratio(row["a_sent_back"], row["a_reviewed"]),
        "rejection_rate": _ratio(row["a_rejected"], row["a_reviewed"]),
        "needs_human_rate": _ratio(row["a_needs_human"], n),
        "failed_runs_per_draft": _ratio(row["a_failed_runs"], n), "failed_runs": row["a_failed_runs"] or 0,
        "mttr_s": _ratio(row["a_recover_s"], row["a_recoveries"]),
        "findings_per_1000_words": _ratio(findings, row["a_words"], 1000.0) if findings is not None else None,
        "override_rate": _ratio(row["a_overrides"], row["a_blocking"]),
        "unsupported_rate": _ratio(row["a_unsupported"], row["a_factual"]),
        "outcome_drafts": row["a_outcome_drafts"], "impressions": int(row["a_impressions"] or 0),
        "clicks": int(row["a_clicks"] or 0), "conversions": int(row["a_conversions"] or 0),
        "click_through_rate": _ratio(row["a_clicks"], row["a_impressions"]),
        "conversion_rate": _ratio(row["a_conversions"], row["a_impressions"]),
    }


def _label(row: dict[str, Any], by: str) -> tuple[Any, str]:
    names = DIMENSIONS[by]
    key = row[names[0]]
    if key is None:
        return None, "(none)"
    if by == "prompt_version":
        return key, f"{row[names[1]]} v{row[names[2]]}"
    if by == "channel":
        return key, Channel(key).label if key in Channel.values else key
    return key, str(row[names[-1]])


def insights_compute_exact(filters: Filters) -> dict[str, Any]:
    """`insights_compute` straight from the fact rows, with exact percentiles: O(drafts), the reference
    the rollups are tested against (7 queries)."""
    facts = facts_for(filters)
    summary_row = facts.aggregate(**rollup_aggregates())
    finding_rows = list(FindingFact.objects.filter(fact__in=facts).values("category")
                        .annotate(n=Sum("count")).order_by("-n", "category"))
    total_findings = sum(r["n"] for r in finding_rows)
    summary = figures(summary_row, total_findings)
    trunc = INTERVALS[filters.interval]
    series = [
        {"period": r["period"].date().isoformat(), **figures(r)}
        for r in facts.annotate(period=trunc("created_at")).values("period").annotate(**rollup_aggregates()).order_by("period")
    ]
    names = DIMENSIONS[filters.by]
    group = names[0].removesuffix("_id")
    group_findings = {r["key"]: r["n"] for r in FindingFact.objects.filter(fact__in=facts)
                      .values(key=F(f"fact__{group}")).annotate(n=Sum("count")).order_by()}
    breakdown = []
    for r in facts.values(*names).annotate(**rollup_aggregates()).order_by("-a_drafts")[:50]:
        key, label = _label(r, filters.by)
        breakdown.append({"key": key, "label": label, **figures(r, group_findings.get(key, 0))})
    gates = list(GateFact.objects.filter(fact__in=facts).values("gate_id", "gate__name").annotate(
        n=Count("pk"), p50_s=Percentile("seconds", 0.5), p95_s=Percentile("seconds", 0.95),
    ).order_by("gate__stage__order", "gate_id"))
    reasons = list(ReasonFact.objects.filter(fact__in=facts).values("decision", "reason")
                   .annotate(n=Count("pk")).order_by("-n", "decision", "reason")[:20])
    words = summary_row["a_words"] or 0
    findings = [{"category": r["category"], "count": r["n"], "per_1000_words": _ratio(r["n"], words, 1000.0)}
                for r in finding_rows]
    return {
        "summary": summary, "series": series, "breakdown": breakdown,
        "gates": [{"gate": g["gate__name"], "gate_id": g["gate_id"], "n": g["n"], "p50_s": g["p50_s"],
                   "p95_s": g["p95_s"]} for g in gates],
        "reasons": reasons, "findings": findings,
    }


ROLLUP_SUMS = ("drafts", "reviewed", "published", "approved", "sent_back", "rejected", "needs_human", "ttft_sum",
               "ttft_n", "edited", "edit_n", "edit_share_sum", "edit_share_n", "write_tokens", "write_s", "cost",
               "section_rewrites", "failed_runs", "recoveries", "recover_s", "words", "blocking_findings",
               "overrides", "factual_sentences", "unsupported", "outcome_drafts", "impressions", "clicks",
               "conversions")
PERCENTILES = {"a_gen_p50": ("gen_hist", 0.5), "a_gen_p95": ("gen_hist", 0.95), "a_gen_p99": ("gen_hist", 0.99),
               "a_appr_p50": ("appr_hist", 0.5), "a_appr_p95": ("appr_hist", 0.95), "a_pub_p50": ("pub_hist", 0.5)}


def rollups_for(model: Any, filters: Filters) -> QuerySet[Any]:
    rows = model.objects.filter(brand_id__in=filters.brands, day__gte=filters.start, day__lte=filters.end)
    for name in ("model_version", "prompt_version", "channel", "template"):
        if getattr(filters, name):
            rows = rows.filter(**{name if name == "channel" else f"{name}_id": getattr(filters, name)})
    return rows


class BytesAgg(Aggregate):
    """Packed histograms of a group, concatenated (rollups.py)."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ''::bytea)"
    output_field = BinaryField()


def _aggregates(values: tuple[Any, ...], packed: tuple[Any, ...]) -> dict[str, Any]:
    """One group's `rollup_aggregates` (as SQL gives them over its fact rows) from its summed rollups."""
    v = {k: float(x or 0) for k, x in zip(ROLLUP_SUMS, values)}
    n = int(v["drafts"])
    total = (lambda x: x if n else None)  # noqa: E731  (SUM over no rows is NULL)
    hists = {name: histogram_dense(p) for name, p in zip(HISTOGRAMS, packed)}
    return {
        "a_drafts": n, "a_reviewed": int(v["reviewed"]), "a_published": int(v["published"]),
        "a_approved": int(v["approved"]), "a_ttft": v["ttft_sum"] / v["ttft_n"] if v["ttft_n"] else None,
        "a_tokens": total(int(v["write_tokens"])), "a_write_s": total(v["write_s"]), "a_cost": total(v["cost"]),
        "a_edited": int(v["edited"]), "a_edit_n": int(v["edit_n"]),
        "a_edit_share": v["edit_share_sum"] / v["edit_share_n"] if v["edit_share_n"] else None,
        "a_rewrites": total(int(v["section_rewrites"])), "a_sent_back": int(v["sent_back"]),
        "a_rejected": int(v["rejected"]), "a_needs_human": int(v["needs_human"]),
        "a_failed_runs": total(int(v["failed_runs"])), "a_recoveries": total(int(v["recoveries"])),
        "a_recover_s": total(v["recover_s"]), "a_words": total(int(v["words"])),
        "a_blocking": total(int(v["blocking_findings"])), "a_overrides": total(int(v["overrides"])),
        "a_factual": total(int(v["factual_sentences"])), "a_unsupported": total(int(v["unsupported"])),
        "a_outcome_drafts": int(v["outcome_drafts"]), "a_impressions": total(int(v["impressions"])),
        "a_clicks": total(int(v["clicks"])), "a_conversions": total(int(v["conversions"])),
        **{key: histogram_percentile(hists[name], q) for key, (name, q) in PERCENTILES.items()},
    }


def _summed(filters: Filters) -> list[tuple[Any, ...]]:
    """The rollups summed three ways in one query (GROUPING SETS): all, per period, per `filters.by` key.
    Rows: (is_period, is_key, period, key, *ROLLUP_SUMS, *HISTOGRAMS)."""
    where, params = ["brand_id = ANY(%s)", "day >= %s", "day <= %s"], [list(filters.brands), filters.start, filters.end]
    for name in ("model_version", "prompt_version", "template", "channel"):
        if getattr(filters, name):
            where.append(f"{name if name == 'channel' else name + '_id'} = %s")
            params.append(getattr(filters, name))
    period = "day" if filters.interval == "day" else "date_trunc('week', day)::date"
    sums = ", ".join(f"SUM({c})" for c in ROLLUP_SUMS)
    hists = ", ".join(f"STRING_AGG({h}, ''::bytea)" for h in HISTOGRAMS)
    sql = (f"SELECT 1 - GROUPING(p), 1 - GROUPING(k), p, k, {sums}, {hists} FROM (SELECT *, {period} AS p, "
           f"{DIMENSIONS[filters.by][0]} AS k FROM {DayRollup._meta.db_table} WHERE {' AND '.join(where)}) r "
           "GROUP BY GROUPING SETS ((), (p), (k))")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _labels(by: str, keys: list[Any]) -> dict[Any, str]:
    """Breakdown labels, in one query (none for channels)."""
    names = DIMENSIONS[by]
    if by == "channel":
        return {k: _label({names[0]: k}, by)[1] for k in keys}
    related = DayRollup._meta.get_field(names[0].removesuffix("_id")).related_model
    fields = [n.split("__", 1)[1] for n in names[1:]]
    found = {r["pk"]: r for r in related.objects.filter(pk__in=[k for k in keys if k is not None])
             .values("pk", *fields)}
    return {k: _label({names[0]: k, **{n: found.get(k, {}).get(f, "?") for n, f in zip(names[1:], fields)}}, by)[1]
            for k in keys}


def insights_compute(filters: Filters) -> dict[str, Any]:
    """Summary, time series, breakdown by `filters.by` (with its findings), per-gate latency, reasons and
    findings, from the daily rollups (`rollups.py`): 5 queries over O(days × keys) rows, summed in the
    database, whatever the number of drafts; percentiles within PERCENTILE_ERROR of `insights_compute_exact`."""
    width = len(ROLLUP_SUMS)
    summary_row, series, keyed = None, [], []
    for row in _summed(filters):
        figures_of = _aggregates(row[4:4 + width], row[4 + width:])
        if row[0]:
            series.append((row[2], figures_of))
        elif row[1]:
            keyed.append((row[3], figures_of))
        else:
            summary_row = figures_of
    series.sort(key=lambda item: item[0])
    top = sorted(keyed, key=lambda item: -item[1]["a_drafts"])[:50]

    finding_counts = list(rollups_for(DayFindingRollup, filters).values("category", key=F(DIMENSIONS[filters.by][0]))
                          .annotate(n=Sum("n")).order_by())
    by_category: dict[str, int] = defaultdict(int)
    group_findings: dict[Any, int] = defaultdict(int)
    for r in finding_counts:
        by_category[r["category"]] += r["n"]
        group_findings[r["key"]] += r["n"]
    labels = _labels(filters.by, [key for key, _ in top])
    gates = []
    for g in (rollups_for(DayGateRollup, filters).values("gate_id", "gate__name", "gate__stage__order")
              .annotate(hist=BytesAgg("hist")).order_by("gate__stage__order", "gate_id")):
        hist = histogram_dense(g["hist"])
        gates.append({"gate": g["gate__name"], "gate_id": g["gate_id"], "n": int(hist.sum()),
                      "p50_s": histogram_percentile(hist, 0.5), "p95_s": histogram_percentile(hist, 0.95)})
    reasons = list(rollups_for(DayReasonRollup, filters).values("decision", "reason").annotate(n=Sum("n"))
                   .order_by("-n", "decision", "reason")[:20])
    words = summary_row["a_words"] or 0
    return {
        "summary": figures(summary_row, sum(by_category.values())),
        "series": [{"period": p.isoformat(), **figures(r)} for p, r in series],
        "breakdown": [{"key": key, "label": labels[key], **figures(r, group_findings.get(key, 0))} for key, r in top],
        "gates": gates, "reasons": reasons,
        "findings": [{"category": c, "count": n, "per_1000_words": _ratio(n, words, 1000.0)}
                     for c, n in sorted(by_category.items(), key=lambda c: (-c[1], c[0]))],
    }


def per_draft_values(filters: Filters) -> list[dict[str, Any]]:
    """The per-draft columns a comparison resamples (one query)."""
    return list(facts_for(filters).annotate(
        sent_back=Q(send_backs__gt=0), reviewed=Q(generation_s__isnull=False),
        finding_count=Sum("findings__count", default=0),
    ).values(
        "generation_s", "ttft_ms", "write_tokens", "write_s", "cost", "published", "edited", "edit_share",
        "section_rewrites", "approval_s", "to_publish_s", "sent_back", "rejected", "reviewed", "needs_human",
        "failed_runs", "recover_s", "recoveries", "finding_count", "words", "overrides", "blocking_findings",
        "unsupported", "factual_sentences", "impressions", "clicks", "conversions",
    ))


def insights_generation_bump() -> None:
    """Called by every refresh pass: figures computed before it are no longer served."""
    try:
        cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
    except Exception:  # the cache is an optimisation: never fail a refresh for it
        log.warning("insights: could not bump the cache generation", exc_info=True)


def insights_figures(filters: Filters) -> dict[str, Any]:
    """`insights_compute`, served from the cache while no refresh pass has run since it was computed."""
    try:
        cache.add(GENERATION_KEY, uuid.uuid4().hex, None)
        generation = cache.get(GENERATION_KEY)
        digest = hashlib.sha256(repr(dataclasses.astuple(filters)).encode()).hexdigest()
        key = f"insights:figures:{generation}:{digest}"
        found = cache.get(key)
    except Exception:
        log.warning("insights: cache unavailable, computing", exc_info=True)
        return insights_compute(filters)
    if found is None:
        found = insights_compute(filters)
        try:
            cache.set(key, found, CACHE_SECONDS)
        except Exception:
            log.warning("insights: could not keep the figures", exc_info=True)
    return found


WARM_BRANDS = 50


def insights_warm() -> int:
    """Compute the default view (the last 90 days, by week, by model version) for every brand alone and
    for all brands together, so that the first look after a refresh pass is served from the cache too.
    Run by the beat task after a pass that changed something; returns the number of views computed."""
    start, end = default_period()
    brand_ids = list(Brand.objects.order_by("name").values_list("pk", flat=True))
    sets = [[pk] for pk in brand_ids[:WARM_BRANDS]] + ([brand_ids] if len(brand_ids) > 1 else [])
    for brands in sets:
        insights_figures(Filters(brands=brands, start=start, end=end, interval="week"))
    return len(sets)
