"""Filing a brief."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from editorial import briefs
from editorial.forms import BriefForm


@login_required
@require_http_methods(["GET", "POST"])
def brief_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("editorial.add_brief"):
        raise PermissionDenied("Your role cannot file briefs.")
    form = BriefForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            draft = briefs.brief_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]:
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Brief filed. The draft is being written — watch it appear below.")
            return redirect("editorial:draft", pk=draft.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "editorial/brief_form.html", {"form": form}, status=status)
