"""Two model or prompt versions side by side on every metric, with 95% confidence intervals for the
difference (B − A): Newcombe's hybrid score interval for shares (edit rate, send-back rate, …) and for
experiment outcome rates (clicks or conversions per impression, pooled over the variant drafts), a
percentile bootstrap over drafts for everything else. A difference counts as significant only when
both sides have at least MIN_N drafts behind the metric and the interval excludes zero; an outcome rate
also needs the experiment page's minimum sample on each side (MIN_IMPRESSIONS impressions and
MIN_EVENTS clicks or conversions). Outcome totals (impressions, …) grow with volume: shown, not tested."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from editorial.campaigns.experiments import MIN_EVENTS, MIN_IMPRESSIONS
from editorial.insights.metrics import METRICS, Filters, Metric, per_draft_values

MIN_N = 20
RESAMPLES = 500
MAX_ROWS = 2000  # a larger side is subsampled (seeded) before resampling: the interval barely moves
Z = 1.959964


@dataclass(frozen=True)
class Difference:
    metric: Metric
    a: float | None
    b: float | None
    n_a: int
    n_b: int
    diff: float | None
    low: float | None
    high: float | None
    significant: bool
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric.key, "label": self.metric.label, "unit": self.metric.unit, "a": self.a,
                "b": self.b, "n_a": self.n_a, "n_b": self.n_b, "difference": self.diff, "ci_low": self.low,
                "ci_high": self.high, "significant": self.significant, "note": self.note,
                "better": self.better}

    @property
    def better(self) -> str:
        """"a", "b" or "" (not significant, or no direction)."""
        if not self.significant or self.diff is None:
            return ""
        b_higher = self.diff > 0
        return "a" if b_higher == self.metric.lower_is_better else "b"


def wilson(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def newcombe(s_a: int, n_a: int, s_b: int, n_b: int) -> tuple[float, float]:
    """95% interval of p_b − p_a (Newcombe 1998, method 10)."""
    p_a, p_b = s_a / n_a, s_b / n_b
    l_a, u_a = wilson(s_a, n_a)
    l_b, u_b = wilson(s_b, n_b)
    d = p_b - p_a
    return (d - math.sqrt((p_b - l_b) ** 2 + (u_a - p_a) ** 2),
            d + math.sqrt((u_b - p_b) ** 2 + (p_a - l_a) ** 2))


def _counted(metric: Metric, row: dict[str, Any]) -> bool:
    """Whether a draft is in a share's denominator (e.g. the edit rate counts approved drafts only)."""
    if not metric.where:
        return True
    if metric.where == metric.column:
        return row[metric.column] is not None
    return bool(row[metric.where])


def _column(rows: list[dict[str, Any]], name: str) -> np.ndarray:
    return np.array([float(r[name]) if r[name] is not None else np.nan for r in rows], dtype=float)


def _sample(rows: list[dict[str, Any]], rng: np.random.Generator) -> list[dict[str, Any]]:
    if len(rows) <= MAX_ROWS:
        return rows
    return [rows[i] for i in rng.choice(len(rows), MAX_ROWS, replace=False)]


def _statistic(metric: Metric, values: np.ndarray, over: np.ndarray | None) -> np.ndarray:
    """The metric over the last axis of `values` (one row per resample)."""
    if metric.kind == "ratio":
        den = over.sum(axis=-1) if over is not None else values.shape[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return values.sum(axis=-1) / den * metric.scale
    if metric.kind == "mean":
        return values.mean(axis=-1)
    q = {"p50": 50, "p95": 95, "p99": 99}[metric.kind]
    return np.percentile(values, q, axis=-1)


def _prepare(metric: Metric, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray | None]:
    values = _column(rows, metric.column)
    over = _column(rows, metric.over) if metric.over else None
    keep = ~np.isnan(values)
    if over is not None:
        keep &= ~np.isnan(over)
    return values[keep], (over[keep] if over is not None else None)


def _rate(metric: Metric, rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]]) -> Difference:
    """Events per trial pooled over each side's drafts with trials; n = those drafts."""
    sides = []
    for rows in (rows_a, rows_b):
        counted = [r for r in rows if (r[metric.over] or 0) > 0]
        sides.append((sum(r[metric.column] for r in counted), sum(r[metric.over] for r in counted), len(counted)))
    (s_a, t_a, n_a), (s_b, t_b, n_b) = sides
    a = s_a / t_a if t_a else None
    b = s_b / t_b if t_b else None
    if not (t_a and t_b):
        return Difference(metric, a, b, n_a, n_b, None, None, None, False, "no data on one side")
    low, high = newcombe(s_a, t_a, s_b, t_b)
    if min(n_a, n_b) >= MIN_N and (min(t_a, t_b) < MIN_IMPRESSIONS or min(s_a, s_b) < MIN_EVENTS):
        return Difference(metric, a, b, n_a, n_b, b - a, low, high, False,
                          f"too small a sample to tell ({t_a:,} and {t_b:,} {metric.over}, {s_a:,} and {s_b:,} "
                          f"{metric.column}; {MIN_IMPRESSIONS} and {MIN_EVENTS} needed on each side)")
    return _verdict(metric, a, b, n_a, n_b, low, high)


def _one(metric: Metric, rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]],
         rng: np.random.Generator) -> Difference:
    if metric.kind == "rate":
        return _rate(metric, rows_a, rows_b)
    if metric.kind == "total":
        a, b = (sum(r[metric.column] for r in rows) for rows in (rows_a, rows_b))
        n_a, n_b = (sum(1 for r in rows if (r[metric.over] or 0) > 0) for rows in (rows_a, rows_b))
        return Difference(metric, a, b, n_a, n_b, b - a, None, None, False, "a total: compare the rates")
    if metric.kind == "share":
        sides = []
        for rows in (rows_a, rows_b):
            picked = [bool(r[metric.column]) for r in rows if _counted(metric, r)]
            sides.append((sum(picked), len(picked)))
        (s_a, n_a), (s_b, n_b) = sides
        a = s_a / n_a if n_a else None
        b = s_b / n_b if n_b else None
        if not (n_a and n_b):
            return Difference(metric, a, b, n_a, n_b, None, None, None, False, "no data on one side")
        low, high = newcombe(s_a, n_a, s_b, n_b)
        return _verdict(metric, a, b, n_a, n_b, low, high)
    (va, oa), (vb, ob) = _prepare(metric, rows_a), _prepare(metric, rows_b)
    n_a, n_b = len(va), len(vb)
    a = float(_statistic(metric, va, oa)) if n_a else None
    b = float(_statistic(metric, vb, ob)) if n_b else None
    a = None if a is not None and not math.isfinite(a) else a
    b = None if b is not None and not math.isfinite(b) else b
    if a is None or b is None:
        return Difference(metric, a, b, n_a, n_b, None, None, None, False, "no data on one side")
    idx_a = rng.integers(0, n_a, size=(RESAMPLES, n_a))
    idx_b = rng.integers(0, n_b, size=(RESAMPLES, n_b))
    boot = (_statistic(metric, vb[idx_b], ob[idx_b] if ob is not None else None)
            - _statistic(metric, va[idx_a], oa[idx_a] if oa is not None else None))
    boot = boot[np.isfinite(boot)]
    if len(boot) < RESAMPLES // 2:
        return Difference(metric, a, b, n_a, n_b, b - a, None, None, False, "too unstable to resample")
    low, high = np.percentile(boot, [2.5, 97.5])
    return _verdict(metric, a, b, n_a, n_b, float(low), float(high))


def _verdict(metric: Metric, a: float, b: float, n_a: int, n_b: int, low: float, high: float) -> Difference:
    if min(n_a, n_b) < MIN_N:
        return Difference(metric, a, b, n_a, n_b, b - a, low, high, False,
                          f"too few drafts to tell (n = {n_a} and {n_b}; {MIN_N} needed on each side)")
    significant = low > 0 or high < 0
    return Difference(metric, a, b, n_a, n_b, b - a, low, high, significant,
                      "significant at 95%" if significant else "not significant")


def versions_compare(*, filters: Filters, dimension: str, a: int, b: int) -> list[Difference]:
    """Every metric for version `a` against version `b` (`dimension`: model_version or prompt_version),
    within the other filters. Two queries; the resampling is seeded, so the same data gives the same answer."""
    rng = np.random.default_rng(12)
    all_a = per_draft_values(replace(filters, **{dimension: a}))
    all_b = per_draft_values(replace(filters, **{dimension: b}))
    rows_a, rows_b = _sample(all_a, rng), _sample(all_b, rng)
    # Counted kinds (outcome rates and totals) are exact sums: every draft, never a subsample.
    return [_one(metric, *((all_a, all_b) if metric.kind in ("rate", "total") else (rows_a, rows_b)), rng)
            for metric in METRICS]
