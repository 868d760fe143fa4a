"""The campaign pages: the list, filing a campaign, the segments × channels grid with live progress
and bulk decisions, a variant reviewed as a diff against its master, and the audience segments."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.models import AgentRun
from editorial.campaigns import selectors
from editorial.campaigns.forms import CampaignForm, SegmentForm
from editorial.campaigns.inheritance import master_text, new_findings
from editorial.campaigns.models import Campaign, Variant
from editorial.campaigns.segments import segment_get_for_user, segment_save, segments_for_user, user_can_edit_segments
from editorial.campaigns.services import (
    campaign_bulk_decide,
    campaign_cells,
    campaign_create,
    campaign_variants_start,
    user_can_create_campaigns,
)
from editorial.diffs import word_diff
from editorial.forms import SignOffForm
from editorial.models import Draft
from governance.gates import gate_states, get_actions, unresolved_blocking_findings
from governance.models import Channel, Gate
from governance.permissions import brands_for_user, error_text
from governance.signoffs import policy_approvals, signoff_record


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = selectors.campaigns_for_user(user=request.user).annotate(n_variants=Count("variants"))
    brands = list(brands_for_user(request.user))
    return render(request, "campaigns/list.html", {
        "campaigns": campaigns,
        "can_create": any(user_can_create_campaigns(request.user, b) for b in brands),
        "segment_count": segments_for_user(user=request.user).count(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    brands = brands_for_user(request.user)
    if not any(user_can_create_campaigns(request.user, b) for b in brands):
        raise PermissionDenied("You cannot start campaigns.")
    form = CampaignForm(request.POST or None, brands=brands)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            campaign = campaign_create(
                user=request.user, brand=d["brand"], name=d["name"], title=d["title"], goal=d["goal"],
                audience=d["audience"], channel=d["channel"], tone=d["tone"], risk=d["risk"], template=d["template"],
                segments=list(d["segments"]), channels=d["channels"], mode=d["mode"], arms=d["arms"],
            )
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Campaign “{campaign.name}” filed; the master is being written.")
            return redirect("campaigns:detail", pk=campaign.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "campaigns/new.html", {"form": form}, status=status)


def _progress(drafts: list[Draft]) -> dict[int, tuple[int, int]]:
    """(sections done, sections planned) of each generating draft's latest write run."""
    generating = [d.pk for d in drafts if d.status == Draft.Status.GENERATING]
    runs = (AgentRun.objects.filter(draft_id__in=generating, kind=AgentRun.Kind.WRITE)
            .annotate(done=Count("sections", filter=Q(sections__done=True)), total=Count("sections"))
            .order_by("draft_id", "-created_at").values_list("draft_id", "done", "total"))
    progress: dict[int, tuple[int, int]] = {}
    for draft_id, done, total in runs:
        progress.setdefault(draft_id, (done, total))
    return progress


def grid_context(campaign: Campaign, user) -> dict:
    variants = list(campaign.variants.select_related("segment", "segment_version", "draft"))
    progress = _progress([v.draft for v in variants])
    policies = policy_approvals([v.draft_id for v in variants])
    for v in variants:
        v.done, v.total = progress.get(v.draft_id, (0, 0))
        v.approved_by_policy = policies.get(v.draft_id, "")
        v.percent = int(100 * v.done / v.total) if v.total else 0
    segments = list(campaign.segments.select_related("active_version"))
    channel_labels = dict(Channel.choices)
    rows = [
        {"segment": s, "cells": [
            {"channel": c, "preferred": c in campaign_cells(campaign, s),
             "variants": [v for v in variants if v.segment_id == s.pk and v.channel == c]}
            for c in campaign.channels
        ]}
        for s in segments
    ]
    counts: dict[str, int] = {}
    for v in variants:
        counts[v.draft.get_status_display()] = counts.get(v.draft.get_status_display(), 0) + 1
    return {
        "campaign": campaign, "rows": rows, "channels": [(c, channel_labels.get(c, c)) for c in campaign.channels],
        "variants": variants, "counts": sorted(counts.items()),
        "missing": sum(len(campaign_cells(campaign, s)) for s in segments) * campaign.arms - len(variants),
        "master_approved": campaign.master.status in (Draft.Status.APPROVED, Draft.Status.PUBLISHED),
    }


@login_required
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    context = grid_context(campaign, request.user)
    context["experiments"] = list(campaign.experiments.select_related("winner"))
    context["can_start"] = (context["missing"] > 0 and user_can_create_campaigns(request.user, campaign.brand)
                            and (context["master_approved"] or campaign.mode == Campaign.Mode.PARALLEL))
    template = "campaigns/detail.html#grid" if request.htmx else "campaigns/detail.html"
    return render(request, template, context)


@login_required
@require_POST
def campaign_start(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    if not user_can_create_campaigns(request.user, campaign.brand):
        raise PermissionDenied("You cannot start this campaign's variants.")
    try:
        created = campaign_variants_start(campaign=campaign, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"{len(created)} variant{'s' if len(created) != 1 else ''} started."
                         if created else "Every variant is already written or being written.")
    return redirect("campaigns:detail", pk=campaign.pk)


@login_required
@require_POST
def campaign_bulk(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get_for_user(user=request.user, pk=pk)
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    try:
        outcomes = campaign_bulk_decide(campaign=campaign, user=request.user, variant_ids=ids,
                                        decision=request.POST.get("decision", ""),
                                        comment=request.POST.get("comment", ""))
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect("campaigns:detail", pk=campaign.pk)
    done = [o for o in outcomes if o.done]
    if done:
        messages.success(request, f"{len(done)} variant{'s' if len(done) != 1 else ''} signed.")
    for o in outcomes:
        if not o.done:
            messages.warning(request, f"{o.variant}: not signed — {o.message}.")
    return redirect("campaigns:detail", pk=campaign.pk)


def variant_review_context(variant: Variant, user, view: str = "inline") -> dict:
    draft = variant.draft
    states = gate_states(draft)
    blocking = unresolved_blocking_findings(draft)
    for state in states:
        state.actions = get_actions(draft, state, user, blocking=blocking)
    base = variant.master_revision or variant.master.current_revision
    new = draft.current_revision
    return {
        "variant": variant, "draft": draft, "master": variant.master, "old": base, "new": new,
        "diff": word_diff(master_text(variant), new.content if new else ""), "view": view,
        "gates": states, "blocking": blocking, "new_findings": new_findings(variant),
    }


@login_required
@require_GET
def variant_diff(request: HttpRequest, pk: int) -> HttpResponse:
    variant = selectors.variant_get_for_user(user=request.user, pk=pk)
    context = variant_review_context(variant, request.user, "side" if request.GET.get("view") == "side" else "inline")
    template = "campaigns/variant.html#variant-diff" if request.htmx else "campaigns/variant.html"
    return render(request, template, context)


@login_required
@require_POST
def variant_sign(request: HttpRequest, pk: int, gate_id: int) -> HttpResponse:
    """Sign a gate of the variant from its diff page: the reviewer signs what changed for this audience."""
    variant = selectors.variant_get_for_user(user=request.user, pk=pk)
    gate = get_object_or_404(Gate, pk=gate_id, stage__workflow_id=variant.draft.workflow_id)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That sign-off was incomplete; nothing was recorded.")
        return redirect("campaigns:variant", pk=variant.pk)
    try:
        signoff_record(draft=variant.draft, gate=gate, user=request.user, decision=form.cleaned_data["decision"],
                       revision_id=form.cleaned_data["revision"], comment=form.cleaned_data["comment"])
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"{gate.name}: {form.cleaned_data['decision'].replace('_', ' ')} recorded.")
    return redirect("campaigns:variant", pk=variant.pk)


# --- segments -----------------------------------------------------------------------------------

@login_required
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    segments = list(segments_for_user(user=request.user).annotate(n_versions=Count("versions")))
    for s in segments:
        s.editable = user_can_edit_segments(request.user, s.brand)
    brands = [b for b in brands_for_user(request.user) if user_can_edit_segments(request.user, b)]
    return render(request, "campaigns/segments.html", {"segments": segments, "edit_brands": brands})


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    segment = segment_get_for_user(user=request.user, pk=pk, action="edit") if pk else None
    brands = [b for b in brands_for_user(request.user) if user_can_edit_segments(request.user, b)]
    if not brands:
        raise PermissionDenied("Only admins and brand leads edit audience segments.")
    initial = {}
    if segment is not None and segment.active_version is not None:
        v = segment.active_version
        initial = {"name": segment.name, "description": v.description, "traits": "\n".join(v.traits),
                   "language": v.language, "channels": v.channels}
    form = SegmentForm(request.POST or None, initial=initial)
    brand_id = request.POST.get("brand") or request.GET.get("brand")
    if request.method == "POST" and form.is_valid():
        brand = segment.brand if segment else next((b for b in brands if str(b.pk) == brand_id), None)
        if brand is None:
            form.add_error(None, "Choose a brand you lead.")
        else:
            d = form.cleaned_data
            try:
                version = segment_save(user=request.user, brand=brand, segment=segment, name=d["name"],
                                       description=d["description"], traits=d["traits"], language=d["language"],
                                       channels=d["channels"])
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, f"Saved “{version.segment.name}” as version {version.number}.")
                return redirect("campaigns:segments")
    status = 400 if request.method == "POST" else 200
    versions = list(segment.versions.select_related("created_by")) if segment else []
    return render(request, "campaigns/segment_form.html", {
        "form": form, "segment": segment, "brands": brands, "brand_id": brand_id, "versions": versions,
    }, status=status)
