"""Daily rollups of the fact rows, so a view of the figures reads O(days × keys) rows, not O(drafts).

One `DayRollup` row per local day (TIME_ZONE) × brand × model version × prompt version × template ×
channel holds the counts and sums every metric is made of, and three duration histograms (generation,
approval, brief → published); `DayGateRollup`, `DayReasonRollup` and `DayFindingRollup` do the same for
the per-gate latency, the send-back reasons and the findings. The refresh pass (`facts.py`) rebuilds
only the cells (day × key) its drafts were and are in, each whole from the fact rows (never incremented), so a
pass may run twice harmlessly.

Percentiles come from the histograms: log-spaced buckets, each RATIO wide, a value read as its bucket's
geometric middle, so a p50/p95/p99 is within PERCENTILE_ERROR (2%) of the exact figure over the same
drafts (durations under LOW seconds read as 0)."""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from django.db.models import Q
from django.utils import timezone

from editorial.insights.models import (
    DayFindingRollup, DayGateRollup, DayReasonRollup, DayRollup, DraftFact, FindingFact, GateFact, ReasonFact,
)

LOW = 0.01  # seconds: the first bucket's lower edge
RATIO = 1.04
BUCKETS = 600  # LOW · RATIO^599 ≈ 1.6e8 s (five years): longer durations land in the last bucket
PERCENTILE_ERROR = math.sqrt(RATIO) - 1  # ≈ 0.0198
KEY_FIELDS = ("brand_id", "model_version_id", "prompt_version_id", "template_id", "channel")
HISTOGRAMS = {"gen_hist": "generation_s", "appr_hist": "approval_s", "pub_hist": "to_publish_s"}
_LOG_RATIO = math.log(RATIO)
# The middle of each bucket (bucket 0: under LOW, read as 0).
MIDDLES = np.array([0.0] + [LOW * RATIO ** (b - 1) * math.sqrt(RATIO) for b in range(1, BUCKETS)])


def bucket_of(seconds: float) -> int:
    if seconds < LOW:
        return 0
    return min(BUCKETS - 1, 1 + int(math.log(seconds / LOW) / _LOG_RATIO))


HIST_DTYPE = np.dtype([("bucket", "<u2"), ("count", "<u4")])  # 6 bytes an entry, no padding


def histogram_pack(values: Iterable[float | None]) -> bytes:
    """The non-empty buckets of these values as (bucket, count) entries. Packed histograms concatenate:
    the bytes of several rows (SQL `string_agg(hist, '')`) are the entries of their sum."""
    counts: dict[int, int] = defaultdict(int)
    for value in values:
        if value is not None:
            counts[bucket_of(value)] += 1
    return np.array(sorted(counts.items()), dtype=HIST_DTYPE).tobytes()


def histogram_dense(packed: bytes | memoryview | None) -> np.ndarray:
    """BUCKETS counts from packed entries (concatenated rows allowed)."""
    entries = np.frombuffer(bytes(packed or b""), dtype=HIST_DTYPE)
    return np.bincount(entries["bucket"], weights=entries["count"], minlength=BUCKETS)


def histogram_percentile(hist: np.ndarray, q: float) -> float | None:
    """PERCENTILE_CONT(q) of the values behind `hist`, each read as its bucket's middle."""
    cum = np.cumsum(hist)
    n = int(cum[-1]) if len(cum) else 0
    if n == 0:
        return None
    pos = q * (n - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    v_lo = MIDDLES[int(np.searchsorted(cum, lo, side="right"))]
    v_hi = MIDDLES[int(np.searchsorted(cum, hi, side="right"))]
    return float(v_lo + (pos - lo) * (v_hi - v_lo))


def local_day(at: datetime) -> date:
    return timezone.localtime(at, timezone.get_default_timezone()).date()


def _day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days folded into [first, last] ranges."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _facts_of(brand_days: dict[int, set[date]]) -> Q:
    tz = timezone.get_default_timezone()
    where = Q(pk__in=[])
    for brand_id, days in brand_days.items():
        for first, last in _day_ranges(days):
            where |= Q(brand_id=brand_id, created_at__gte=datetime.combine(first, time.min, tzinfo=tz),
                       created_at__lt=datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz))
    return where


def fact_cells(facts: Iterable[Any]) -> set[tuple[Any, ...]]:
    """The rollup cells (day, *KEY_FIELDS) of these fact rows (DraftFact objects or dicts)."""
    cells = set()
    for fact in facts:
        get = fact.get if isinstance(fact, dict) else fact.__dict__.get
        cells.add((local_day(get("created_at")), *(get(k) for k in KEY_FIELDS)))
    return cells


SUM_FIELDS = ("write_tokens", "write_s", "cost", "section_rewrites", "failed_runs", "recoveries", "recover_s",
              "words", "blocking_findings", "overrides", "factual_sentences", "unsupported", "impressions", "clicks",
              "conversions")


def _rollup_rows(facts: list[dict[str, Any]]) -> list[DayRollup]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for fact in facts:
        groups[fact["key"]].append(fact)
    rows = []
    for (day, *key), members in groups.items():
        row = DayRollup(day=day, **dict(zip(KEY_FIELDS, key)), drafts=len(members))
        reviewed = [f for f in members if f["generation_s"] is not None]
        row.reviewed = len(reviewed)
        row.published = sum(f["published"] for f in members)
        row.approved = sum(f["approved"] for f in members)
        row.sent_back = sum(1 for f in reviewed if f["send_backs"] > 0)
        row.rejected = sum(1 for f in reviewed if f["rejected"])
        row.needs_human = sum(f["needs_human"] for f in members)
        ttft = [f["ttft_ms"] for f in members if f["ttft_ms"] is not None]
        row.ttft_sum, row.ttft_n = sum(ttft), len(ttft)
        edited = [f["edited"] for f in members if f["edited"] is not None]
        row.edited, row.edit_n = sum(edited), len(edited)
        shares = [f["edit_share"] for f in members if f["edit_share"] is not None]
        row.edit_share_sum, row.edit_share_n = sum(shares), len(shares)
        row.outcome_drafts = sum(1 for f in members if f["impressions"] > 0)
        for name in SUM_FIELDS:
            setattr(row, name, sum(f[name] for f in members))
        for field, column in HISTOGRAMS.items():
            setattr(row, field, histogram_pack(f[column] for f in members))
        rows.append(row)
    return rows


FULL_CHUNK_DAYS = 31
MODELS = (DayRollup, DayGateRollup, DayReasonRollup, DayFindingRollup)


def rollups_rebuild(*, cells: set[tuple[Any, ...]] | None = None) -> int:
    """Rebuild these rollup cells (day, *KEY_FIELDS) from their fact rows; None: every cell, a month of
    a brand at a time. Returns the number of DayRollup rows written. Call inside the refresh's transaction."""
    if cells is not None:
        brand_days: dict[int, set[date]] = defaultdict(set)
        for cell in cells:
            brand_days[cell[1]].add(cell[0])
        return _cells_rebuild(brand_days, cells) if cells else 0
    for model in MODELS:
        model.objects.all().delete()
    written = 0
    every: dict[int, set[date]] = defaultdict(set)
    for brand_id, at in DraftFact.objects.values_list("brand_id", "created_at"):
        every[brand_id].add(local_day(at))
    for brand_id, days in every.items():
        ordered = sorted(days)
        for start in range(0, len(ordered), FULL_CHUNK_DAYS):
            written += _cells_rebuild({brand_id: set(ordered[start:start + FULL_CHUNK_DAYS])}, None)
    return written


def _cells_rebuild(brand_days: dict[int, set[date]], cells: set[tuple[Any, ...]] | None) -> int:
    """The cells of these brand × days (None: all of them, already deleted) rebuilt."""
    if cells is not None:
        in_days = Q(pk__in=[])
        for brand_id, days in brand_days.items():
            in_days |= Q(brand_id=brand_id, day__in=sorted(days))
        for model in MODELS:
            stale = [pk for pk, *cell in model.objects.filter(in_days).values_list("pk", "day", *KEY_FIELDS)
                     if tuple(cell) in cells]
            model.objects.filter(pk__in=stale).delete()
    where = _facts_of(brand_days)
    columns = [*KEY_FIELDS, "created_at", "generation_s", "approval_s", "to_publish_s", "published", "approved",
               "send_backs", "rejected", "needs_human", "ttft_ms", "edited", "edit_share", *SUM_FIELDS]
    facts = []
    keys = {}
    for fact in DraftFact.objects.filter(where).values("draft_id", *columns):
        fact["key"] = (local_day(fact["created_at"]), *(fact[k] for k in KEY_FIELDS))
        if cells is None or fact["key"] in cells:
            keys[fact["draft_id"]] = fact["key"]
            facts.append(fact)
    rows = _rollup_rows(facts)
    DayRollup.objects.bulk_create(rows, batch_size=2000)

    def keyed(key: tuple[Any, ...]) -> dict[str, Any]:
        return {"day": key[0], **dict(zip(KEY_FIELDS, key[1:]))}

    fact_filter = Q(fact_id__in=list(keys))
    gates: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for fact_id, gate_id, seconds in GateFact.objects.filter(fact_filter).values_list("fact_id", "gate_id", "seconds"):
        if fact_id in keys:
            gates[(*keys[fact_id], gate_id)].append(seconds)
    DayGateRollup.objects.bulk_create([
        DayGateRollup(**keyed(k[:-1]), gate_id=k[-1], n=len(v), hist=histogram_pack(v)) for k, v in gates.items()
    ], batch_size=2000)
    reasons: dict[tuple[Any, ...], int] = defaultdict(int)
    for fact_id, decision, reason in ReasonFact.objects.filter(fact_filter).values_list("fact_id", "decision", "reason"):
        if fact_id in keys:
            reasons[(*keys[fact_id], decision, reason)] += 1
    DayReasonRollup.objects.bulk_create([
        DayReasonRollup(**keyed(k[:-2]), decision=k[-2], reason=k[-1], n=n) for k, n in reasons.items()
    ], batch_size=2000)
    findings: dict[tuple[Any, ...], int] = defaultdict(int)
    for fact_id, category, count in FindingFact.objects.filter(fact_filter).values_list("fact_id", "category", "count"):
        if fact_id in keys:
            findings[(*keys[fact_id], category)] += count
    DayFindingRollup.objects.bulk_create([
        DayFindingRollup(**keyed(k[:-1]), category=k[-1], n=n) for k, n in findings.items()
    ], batch_size=2000)
    return len(rows)
