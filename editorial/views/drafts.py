"""The draft page, its live progress, the diff of two revisions, restoring a revision, and retrying
generation."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from agents.pipeline.steps import pipeline_retry
from editorial import editing, selectors
from editorial.diffs import word_diff
from editorial.draftpage import draft_page_render
from governance.permissions import error_text


@login_required
@require_GET
def draft_detail(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    return draft_page_render(request, draft)


@login_required
@require_GET
def draft_live(request: HttpRequest, pk: int) -> JsonResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    return JsonResponse(selectors.live_snapshot(draft))


@login_required
@require_GET
def draft_diff(request: HttpRequest, pk: int) -> HttpResponse:
    """Any two revisions of the draft, inline or side by side. Without `b` the current revision,
    without `a` the one `b` was based on."""
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    new = selectors.revision_get_for_draft(draft=draft, pk=request.GET.get("b") or draft.current_revision_id)
    old = selectors.revision_get_for_draft(draft=draft, pk=request.GET.get("a") or new.parent_id)
    context = {
        "draft": draft,
        "old": old,
        "new": new,
        "diff": word_diff(old.content, new.content),
        "view": "side" if request.GET.get("view") == "side" else "inline",
        "revisions": list(draft.revisions.select_related("author_user", "author_run").order_by("-number")),
        "push_url": True,
    }
    template = "editorial/diff.html#diff" if request.htmx else "editorial/diff.html"
    return render(request, template, context)


@login_required
@require_POST
def revision_restore(request: HttpRequest, pk: int, revision_id: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk, action="edit")
    try:
        revision = editing.revision_restore(
            draft=draft, user=request.user, revision_id=revision_id, note=request.POST.get("note", "")
        )
    except (ValidationError, PermissionDenied) as exc:
        # The draft page again, with the reason; a refused restore is bad input, not a redirect.
        messages.error(request, error_text(exc))
        return draft_page_render(request, draft, status=403 if isinstance(exc, PermissionDenied) else 400)
    source = revision.provenance["restored_from"]["number"]
    messages.success(request, f"Restored r{source} as the new revision r{revision.number}; nothing was deleted.")
    return redirect("editorial:draft", pk=draft.pk)


@login_required
@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk, action="retry")
    try:
        pipeline_retry(draft=draft, user=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Retrying from the step that failed.")
    return redirect("editorial:draft", pk=draft.pk)
