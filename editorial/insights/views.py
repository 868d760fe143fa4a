"""The Insights page of the desk and its version comparison (editors, brand leads and admins, each
seeing only their brands)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from agents.models import ModelVersion, PromptTemplateVersion
from editorial.campaigns.experiments import MIN_EVENTS, MIN_IMPRESSIONS
from editorial.insights.compare import MIN_N, versions_compare
from editorial.insights.forms import CompareForm, InsightsFilterForm
from editorial.insights.metrics import METRICS, default_period, insights_brands_for_user, insights_figures
from editorial.insights.rollups import PERCENTILE_ERROR

CHART_KEYS = ("drafts", "published", "generation_p50_s", "generation_p95_s", "edit_rate", "send_back_rate",
              "cost_per_published", "approval_p50_s", "impressions", "click_through_rate", "conversion_rate")


def _chart_data(result: dict) -> dict:
    """What the charts draw: the same numbers as the tables under them."""
    return {
        "series": [{"period": r["period"], **{k: r[k] for k in CHART_KEYS}} for r in result["series"]],
        "gates": result["gates"],
        "findings": result["findings"],
        "reasons": result["reasons"],
        "breakdown": [{"label": r["label"], "edit_rate": r["edit_rate"], "drafts": r["drafts"],
                       "cost_per_published": r["cost_per_published"], "outcome_drafts": r["outcome_drafts"],
                       "click_through_rate": r["click_through_rate"], "conversion_rate": r["conversion_rate"]}
                      for r in result["breakdown"]],
    }


def _common(request: HttpRequest) -> tuple[InsightsFilterForm, dict]:
    brands = insights_brands_for_user(request.user)
    data = request.GET.copy()
    if not data.get("start") and not data.get("end"):  # show the period the figures cover
        start, end = default_period()
        data["start"], data["end"] = start.isoformat(), end.isoformat()
    form = InsightsFilterForm(data, brands=brands)
    models = [{"pk": v.pk, "label": v.name} for v in ModelVersion.objects.order_by("-created_at", "-pk")]
    prompts = [{"pk": v.pk, "label": f"{v.template.name} v{v.number}"} for v in
               PromptTemplateVersion.objects.select_related("template").order_by("template__name", "-number")]
    context = {"form": form, "metrics": METRICS,
               "compare_choices": [("model_version", "Model version", models),
                                   ("prompt_version", "Prompt version", prompts)]}
    return form, context


@login_required
@require_GET
def insights_page(request: HttpRequest) -> HttpResponse:
    form, context = _common(request)
    status = 200
    if form.is_valid():
        filters = form.filters()
        result = insights_figures(filters)
        context.update(result=result, filters=filters, chart=_chart_data(result), scope_label=form.scope_label(),
                       by_label=dict(form.fields["by"].choices)[filters.by].lower(),
                       percentile_error=f"{PERCENTILE_ERROR:.0%}", min_impressions=MIN_IMPRESSIONS,
                       min_events=MIN_EVENTS)
    else:
        status = 400
    template = "insights/page.html"
    if request.htmx and request.htmx.target == "insights-body":
        template += "#body"
    return render(request, template, context, status=status)


def _impact_url(dimension: str, version: object) -> str:
    try:
        if dimension == "model_version":
            return reverse("admin:agents_modelversion_impact", args=[version.pk])
        return reverse("admin:agents_prompttemplate_impact", args=[version.template_id, version.pk])
    except NoReverseMatch:
        return ""


@login_required
@require_GET
def insights_compare(request: HttpRequest) -> HttpResponse:
    form, context = _common(request)
    pick = CompareForm(request.GET)
    context["pick"] = pick
    status = 200
    if form.is_valid() and pick.is_valid():
        dimension, a, b = pick.cleaned_data["dimension"], pick.cleaned_data["a"], pick.cleaned_data["b"]
        versions = pick.cleaned_data["versions"]
        rows = versions_compare(filters=form.filters(), dimension=dimension, a=a, b=b)
        context.update(
            rows=rows, version_a=versions[a], version_b=versions[b], dimension=dimension, min_n=MIN_N,
            scope_label=form.scope_label(),
            impact_url=_impact_url(dimension, versions[b]) if request.user.is_staff else "",
        )
    else:
        status = 400
    return render(request, "insights/compare.html", context, status=status)
