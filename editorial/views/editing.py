"""Editing a draft: a new revision based on the one the person opened."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from editorial import editing, selectors
from editorial.diffs import word_diff
from editorial.forms import EditForm


@login_required
@require_http_methods(["GET", "POST"])
def draft_edit(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk, action="edit")
    current = draft.current_revision
    if current is None:
        messages.error(request, "There is no revision to edit yet.")
        return redirect("editorial:draft", pk=draft.pk)
    conflict = None
    if request.method == "POST":
        form = EditForm(request.POST)
        if form.is_valid():
            try:
                editing.draft_edit(
                    draft=draft,
                    user=request.user,
                    content=form.cleaned_data["content"],
                    base_revision_id=form.cleaned_data["base_revision"],
                    note=form.cleaned_data["note"],
                )
            except editing.EditAlreadySaved as exc:
                # Saved by the first submit: the copy kept in the browser can go, as after any save.
                messages.info(request, str(exc), extra_tags="edit-saved")
                return redirect("editorial:draft", pk=draft.pk)
            except editing.EditConflict as exc:
                # Keep the person's text; show what changed underneath them.
                base = draft.revisions.filter(pk=form.cleaned_data["base_revision"]).first()
                conflict = {
                    "current": exc.current,
                    "diff": word_diff(base.content if base else "", exc.current.content),
                }
                form = EditForm(
                    initial={"content": form.cleaned_data["content"], "base_revision": exc.current.pk,
                             "note": form.cleaned_data["note"]}
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, exc.messages)
            else:
                # The tag tells the page to drop the copy of the text kept in the browser while editing.
                messages.success(request, "Saved as a new revision.", extra_tags="edit-saved")
                return redirect("editorial:draft", pk=draft.pk)
    else:
        form = EditForm(initial={"content": current.content, "base_revision": current.pk})
    status = 409 if conflict else (422 if request.method == "POST" else 200)
    return render(
        request, "editorial/edit.html", {"draft": draft, "form": form, "current": current, "conflict": conflict},
        status=status,
    )
