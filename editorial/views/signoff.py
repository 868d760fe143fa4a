"""Deciding at a review gate of a draft."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from editorial import selectors
from editorial.forms import SignOffForm
from governance.models import Gate
from governance.permissions import error_text
from governance.signoffs import signoff_record


@login_required
@require_POST
def gate_action(request: HttpRequest, pk: int, gate_id: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    gate = get_object_or_404(Gate, pk=gate_id, stage__workflow_id=draft.workflow_id)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That sign-off was incomplete; nothing was recorded.")
        return redirect("editorial:draft", pk=draft.pk)
    try:
        signoff_record(
            draft=draft,
            gate=gate,
            user=request.user,
            decision=form.cleaned_data["decision"],
            revision_id=form.cleaned_data["revision"],
            comment=form.cleaned_data["comment"],
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return redirect("editorial:draft", pk=draft.pk)
    messages.success(request, f"{gate.name}: {form.cleaned_data['decision'].replace('_', ' ')} recorded.")
    return redirect("editorial:draft", pk=draft.pk)
