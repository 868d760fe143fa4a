"""The outline checkpoint: approve the (edited) outline of a draft, which is then written from it."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from agents.pipeline import outline as outline_services
from editorial import selectors
from editorial.draftpage import draft_page_again
from editorial.models import Draft
from governance.permissions import error_text


@login_required
@require_POST
def outline_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve the (edited) outline; the draft is then written from it."""
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    if not outline_services.may_approve_outline(request.user, draft):
        raise PermissionDenied("Only editors of this brand and the brief's requester can approve its outline.")
    try:
        rows = outline_services.outline_rows(request.POST.getlist("heading"), request.POST.getlist("instruction"))
        run = outline_services.outline_approve(draft=draft, user=request.user, rows=rows)
    except outline_services.OutlineInvalid as exc:
        return draft_page_again(request, draft, status=422, outline_rows=exc.rows, outline_error=error_text(exc))
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        waiting = Draft.objects.filter(pk=draft.pk, status=Draft.Status.OUTLINE_REVIEW).exists()
        return draft_page_again(request, draft, status=422 if waiting else 409)
    n = len(run.output["sections"])
    messages.success(request, f"Outline approved ({n} section{'s' if n != 1 else ''}). The draft is being written.")
    return redirect("editorial:draft", pk=draft.pk)
