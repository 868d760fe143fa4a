"""GET /api/v1/metrics: the insights figures for machines, with the page's filters and slices,
scoped by the token's (or session's) user and their brands. JSON, or CSV with `Accept: text/csv`."""
from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema

from editorial.insights.forms import InsightsFilterForm
from editorial.insights.metrics import METRIC_KEYS, insights_brands_for_user, insights_figures
from editorial.schemas import errors
from governance.permissions import api_scope_required

router = Router(tags=["insights"])
CSV_TYPE = "text/csv"


class MetricsQuery(Schema):
    brand: str | None = Field(None, description="Brand slug (default: every brand you work on).")
    model_version: int | None = Field(None, description="Model version id.")
    prompt_version: int | None = Field(None, description="Prompt template version id.")
    channel: str | None = None
    template: str | None = Field(None, description="Prompt template slug.")
    start: date | None = Field(None, description="First day (brief filed), default 89 days before `end`.")
    end: date | None = Field(None, description="Last day, default today.")
    interval: Literal["day", "week"] = "day"
    by: Literal["model_version", "prompt_version", "brand", "channel", "template"] = "model_version"
    table: Literal["series", "breakdown"] = Field("series", description="Which rows a CSV answer holds.")


class MetricsOut(Schema):
    filters: dict[str, Any]
    summary: dict[str, Any]
    series: list[dict[str, Any]]
    breakdown: list[dict[str, Any]]
    gates: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    findings: list[dict[str, Any]]


def _csv(rows: list[dict[str, Any]], first: list[str]) -> HttpResponse:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*first, "drafts", "published", "approved", "cost_total", "failed_runs",
                                             "outcome_drafts", *METRIC_KEYS], extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type=f"{CSV_TYPE}; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="aios-metrics.csv"'
    return response


@router.get("/metrics", operation_id="getMetrics", response={200: MetricsOut, **errors(422)})
def metrics(request: HttpRequest, query: Query[MetricsQuery]):
    """Speed, cost, editing, review, escalation and finding figures of your brands' drafts (by the day
    each brief was filed), and the outcomes the CMS reported for experiment variants (impressions, clicks,
    conversions, click-through and conversion rates per impression; `outcome_drafts` drafts behind them), with a time series per `interval` and a breakdown `by` a slice. Figures come
    from rollups refreshed every minute; percentiles (`*_p50_s`, `*_p95_s`, `*_p99_s`) are read from daily
    duration histograms, within 2% of the exact figure. Send `Accept: text/csv` for the series (or `table=breakdown`)
    as CSV. A brand you do not work on is refused (422) rather than silently empty."""
    api_scope_required(request, "read")
    brands = insights_brands_for_user(request.user)
    params = {k: v for k, v in query.dict().items() if v is not None and k != "table"}
    form = InsightsFilterForm(params, brands=brands)
    if not form.is_valid():
        raise ValidationError({field: list(messages) for field, messages in form.errors.items()})
    filters = form.filters()
    result = insights_figures(filters)
    if CSV_TYPE in request.headers.get("Accept", ""):
        if query.table == "breakdown":
            return _csv(result["breakdown"], ["key", "label"])
        return _csv(result["series"], ["period"])
    echo = {"brands": [b.slug for b in brands if b.pk in filters.brands], "start": filters.start,
            "end": filters.end, "model_version": filters.model_version, "prompt_version": filters.prompt_version,
            "channel": filters.channel or None, "template": query.template, "interval": filters.interval,
            "by": filters.by}
    return {"filters": echo, **result}
