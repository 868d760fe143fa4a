"""The reviewer-corrections export in the desk: a form, and the JSONL download it leads to."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from editorial.corrections import corrections_export
from editorial.forms import CorrectionsForm

JSONL = "application/jsonl; charset=utf-8"


def _page(request: HttpRequest, form: CorrectionsForm, *, status: int = 200) -> HttpResponse:
    return render(request, "editorial/corrections.html", {"form": form}, status=status)


@login_required
@require_GET
def corrections(request: HttpRequest) -> HttpResponse:
    form = CorrectionsForm(user=request.user)
    return _page(request, form, status=200 if form.allowed else 403)


@login_required
@require_GET
def corrections_download(request: HttpRequest) -> HttpResponse:
    form = CorrectionsForm(request.GET, user=request.user)
    if not form.allowed:
        return _page(request, form, status=403)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        lines = corrections_export(user=request.user, filters=form.filters())
    except PermissionDenied:
        return _page(request, form, status=403)
    response = StreamingHttpResponse(lines, content_type=JSONL)
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="corrections-{stamp}.jsonl"'
    return response
