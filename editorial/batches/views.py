"""The desk's bulk briefs: upload a file (validated whole before anything is stored), see the
estimate, start or schedule, watch the progress bar and the rows (a page at a time, filtered by
state, refreshed live), pause, resume, cancel."""
from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from editorial.batches import services
from editorial.batches.forms import BatchPolicyPublishForm, BatchStartForm, BatchUploadForm
from editorial.batches.models import Batch
from editorial.batches.selectors import (
    RowsView,
    UnknownRowState,
    batch_get_for_user,
    batch_rows_for_user,
    batches_for_user,
    policy_scheduled_drafts,
)


@login_required
@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    batches = list(batches_for_user(user=request.user)[:100])
    return render(request, "batches/list.html", {"batches": batches})


@login_required
@require_http_methods(["GET", "POST"])
def batch_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("editorial.add_brief"):
        raise PermissionDenied("Your role cannot file briefs.")
    form = BatchUploadForm(request.POST or None, request.FILES or None, user=request.user)
    invalid = None
    if request.method == "POST" and form.is_valid():
        data, upload = form.cleaned_data, form.cleaned_data["file"]
        try:
            batch = services.batch_upload(
                user=request.user, stream=upload.file, fmt=form.file_format(), brand=data["brand"],
                template=data["template"], name=data["name"], channel=data["channel"], risk=data["risk"],
                language=data["language"], mapping=form.mapping(), defaults=form.defaults(), source_name=upload.name,
                policy_publish_at=data["publish_at"],
            )
        except services.BatchInvalid as exc:
            invalid = exc
            if data["name"] == Path(upload.name).stem:  # named after the file: the next file renames it
                form.fields["name"].widget.attrs["data-from-file"] = data["name"]
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            messages.success(request, f"{batch.total} rows checked and ready. Nothing is filed until you start.")
            return redirect("batches:detail", pk=batch.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "batches/new.html", {"form": form, "invalid": invalid}, status=status)


def rows_for(request: HttpRequest, pk: int) -> tuple[RowsView, str]:
    """The page of rows the query asks for; an unknown state filter shows every row, with a note."""
    try:
        return batch_rows_for_user(user=request.user, pk=pk, state=request.GET.get("state", ""),
                                   page=request.GET.get("page", 1)), ""
    except UnknownRowState as exc:
        return batch_rows_for_user(user=request.user, pk=pk, page=request.GET.get("page", 1)), str(exc)


@login_required
@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    may_act = request.user.has_perm("editorial.add_brief")
    if request.htmx and request.htmx.target == "batch-actions":  # the buttons, after the batch's status moved
        batch = batch_get_for_user(user=request.user, pk=pk)
        if not may_act:
            return HttpResponse("")
        return render(request, "batches/detail.html#actions",
                      {"batch": batch, "start_form": BatchStartForm(), "may_act": may_act})
    return detail_render(request, pk)


def detail_render(request: HttpRequest, pk: int, *, policy_form: BatchPolicyPublishForm | None = None,
                  status: int = 200) -> HttpResponse:
    view, note = rows_for(request, pk)
    batch = view.batch
    return render(request, "batches/detail.html", {
        "batch": batch, "counts": services.batch_counts(batch), "rows": view, "rows_note": note,
        "start_form": BatchStartForm(), "may_act": request.user.has_perm("editorial.add_brief"),
        "policy_form": policy_form or BatchPolicyPublishForm(),
        "policy_scheduled": policy_scheduled_drafts(batch).count() if batch.policy_publish_at else 0,
    }, status=400 if note else status)


@login_required
@require_GET
def batch_rows(request: HttpRequest, pk: int) -> HttpResponse:
    """The rows card alone: the page's filter links and its live refresh swap it in place."""
    view, note = rows_for(request, pk)
    return render(request, "batches/detail.html#rows", {"batch": view.batch, "rows": view, "rows_note": note},
                  status=400 if note else 200)


@login_required
@require_GET
def batch_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The progress figures (the page polls this when its WebSocket is down)."""
    return JsonResponse(services.batch_counts(batch_get_for_user(user=request.user, pk=pk)))


@login_required
@require_POST
def batch_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ("start", "pause", "resume", "cancel"):
        raise Http404("No such action.")
    batch = batch_get_for_user(user=request.user, pk=pk, action=action)
    try:
        if action == "start":
            form = BatchStartForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors.as_text())
            batch = services.batch_start(user=request.user, batch=batch, start_at=form.cleaned_data["start_at"])
            done = (f"Scheduled for {batch.start_at:%Y-%m-%d %H:%M}." if batch.status == Batch.Status.SCHEDULED
                    else "Started: briefs are being filed.")
        else:
            act = {"pause": services.batch_pause, "resume": services.batch_resume, "cancel": services.batch_cancel}
            batch = act[action](user=request.user, batch=batch)
            done = {"pause": "Paused: no new briefs are filed; drafts being written finish.",
                    "resume": "Resumed.",
                    "cancel": "Cancelled: rows not yet filed were dropped; filed drafts are kept."}[action]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("batches:detail", pk=pk)
    messages.success(request, done)
    return redirect("batches:detail", pk=batch.pk)


@login_required
@require_POST
def batch_policy_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """Change or clear when the batch's drafts approved by policy are published (roles that may start it)."""
    batch = batch_get_for_user(user=request.user, pk=pk, action="change")
    form = BatchPolicyPublishForm(request.POST)
    if form.is_valid():
        try:
            batch = services.batch_policy_publish_at_set(user=request.user, batch=batch,
                                                         policy_publish_at=form.cleaned_data["publish_at"])
        except ValidationError as exc:
            form.add_error("publish_at", exc.messages)
    if not form.is_valid():
        return detail_render(request, pk, policy_form=form, status=422)
    when = batch.policy_publish_at
    messages.success(request, f"Drafts approved by policy are now published at {when:%Y-%m-%d %H:%M} UTC; any the "
                              "policy had scheduled for the old time moved with it." if when else
                     "Drafts approved by policy are now published as soon as they are approved; any that were "
                     "waiting for the old time are being published now.")
    return redirect("batches:detail", pk=batch.pk)
