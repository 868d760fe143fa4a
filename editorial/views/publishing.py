"""Publishing an approved draft now (scheduling and retracting are governance views)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from editorial import selectors
from governance.permissions import error_text
from governance.publishing.publish import draft_publish


@login_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    try:
        deliveries = draft_publish(draft=draft, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        names = ", ".join(d.connector.name for d in deliveries)
        messages.success(request, f"Published. Sending to {names}.")
    return redirect("editorial:draft", pk=draft.pk)
