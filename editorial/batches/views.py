"""The desk's bulk briefs: upload a file (validated whole before anything is stored), see the
estimate, start or schedule, watch the progress bar, pause, resume, cancel."""
from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from editorial.batches import services
from editorial.batches.forms import BatchStartForm, BatchUploadForm
from editorial.batches.models import Batch
from editorial.batches.selectors import batch_get_for_user, batches_for_user

ROWS_SHOWN = 100


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


@login_required
@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = batch_get_for_user(user=request.user, pk=pk)
    rows = batch.rows.select_related("draft").order_by("number")[:ROWS_SHOWN]
    return render(request, "batches/detail.html", {
        "batch": batch, "counts": services.batch_counts(batch), "rows": rows, "rows_shown": ROWS_SHOWN,
        "start_form": BatchStartForm(), "may_act": request.user.has_perm("editorial.add_brief"),
    })


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
