"""Experiment pages: starting an A/B test from the campaign grid, the results with their statistics,
promoting the winner, and the CMS's signed outcome callback."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from editorial.campaigns import selectors
from editorial.campaigns.experiments import (
    METRICS,
    experiment_create,
    experiment_promote,
    experiment_results,
    outcome_report_record,
    user_can_run_experiments,
)
from governance.models import Connector
from governance.permissions import error_text
from governance.publishing.views import body_within_limit, problem_json

MAX_BODY = 64 * 1024


@login_required
@require_POST
def experiment_new(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    variants = list(campaign.variants.filter(pk__in=ids).order_by("arm"))
    try:
        shares = [int(s) for s in request.POST.get("split", "").replace("/", ",").split(",") if s.strip()]
    except ValueError:
        shares = []
    if not shares and variants:
        shares = [100 // len(variants)] * len(variants)
        shares[0] += 100 - sum(shares)
    try:
        experiment = experiment_create(user=request.user, campaign=campaign, name=request.POST.get("name", ""),
                                       variants=variants, shares=shares)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return redirect("campaigns:detail", pk=campaign.pk)
    messages.success(request, f"Experiment “{experiment.name}” started.")
    return redirect("campaigns:experiment", pk=experiment.pk)


@login_required
@require_GET
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = selectors.experiment_get_for_user(user=request.user, pk=pk)
    metric = request.GET.get("metric", "conversions")
    if metric not in METRICS:
        metric = "conversions"
    return render(request, "campaigns/experiment.html", {
        "experiment": experiment, "campaign": experiment.campaign,
        "results": experiment_results(experiment, metric=metric),
        "metric": metric, "metrics": METRICS.items(),
        "can_promote": user_can_run_experiments(request.user, experiment.campaign),
    })


@login_required
@require_POST
def experiment_promote_view(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = selectors.experiment_get_for_user(user=request.user, pk=pk)
    winner = experiment.arms.filter(variant_id=request.POST.get("winner") if request.POST.get(
        "winner", "").isdigit() else None).select_related("variant").first()
    try:
        if winner is None:
            raise ValidationError("Choose the winning variant.")
        experiment_promote(experiment=experiment, user=request.user, winner=winner.variant)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Variant {winner.variant.arm} promoted: published to everyone, "
                                  "the others retracted.")
    return redirect("campaigns:experiment", pk=experiment.pk)


@csrf_exempt  # machines sign their requests (Standard Webhooks); there is no browser session
@require_POST
def outcome_callback(request: HttpRequest, connector_id: int) -> JsonResponse:
    """The CMS reports impressions, clicks and conversions of one variant; a replayed report id is
    answered with what was recorded the first time, and counted once."""
    connector = Connector.objects.filter(pk=connector_id, is_active=True).first()
    if connector is None:
        return problem_json(404, "Not found", "No such connector.")
    raw = body_within_limit(request, MAX_BODY)
    if raw is None:
        return problem_json(413, "Payload too large", f"The body is larger than {MAX_BODY} bytes.")
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        recorded = outcome_report_record(connector=connector, body=raw.decode("utf-8"), headers=headers)
    except UnicodeDecodeError:
        return problem_json(400, "Bad request", "The body is not UTF-8 text.")
    except PermissionDenied as exc:
        return problem_json(401, "Unauthorized", str(exc))
    except ValidationError as exc:
        return problem_json(422, "Unprocessable", " ".join(exc.messages))
    report = recorded.report
    return JsonResponse({"report_id": report.report_id, "replayed": recorded.replayed, "counted": {
        "impressions": report.impressions, "clicks": report.clicks, "conversions": report.conversions,
    }}, status=200 if recorded.replayed else 201)
