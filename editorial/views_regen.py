"""Views of the draft page's proposal panel (rewrite one section with an instruction) and of the outline
checkpoint. Parse → service → render; access is checked by the selectors and again by the services."""
from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from agents.pipeline import outline as outline_services
from agents.pipeline import regenerate as regen_services
from editorial import selectors
from editorial.models import Draft, Proposal
from editorial.views import _draft_context
from governance.permissions import error_text


class RegenerateForm(forms.Form):
    section = forms.IntegerField(min_value=0, error_messages={"required": "Choose the section to rewrite."})
    instruction = forms.CharField(
        max_length=regen_services.MAX_INSTRUCTION,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say how the section should change, e.g. “shorter, warmer, cite the source”."},
    )
    base_revision = forms.IntegerField(widget=forms.HiddenInput)
    key = forms.CharField(max_length=64, widget=forms.HiddenInput)


def regen_context(
    request: HttpRequest,
    draft: Draft,
    *,
    regen_form: RegenerateForm | None = None,
    outline_rows: list[outline_services.OutlineRow] | None = None,
    outline_error: str = "",
) -> dict[str, Any]:
    """What templates/editorial/_regen.html draws, for `request.user`."""
    user = request.user
    current = draft.current_revision
    can_regenerate = regen_services.can_regenerate(user, draft)
    context: dict[str, Any] = {
        "draft": draft,
        "current": current,
        "proposals": regen_services.proposals_for_panel(draft),
        "can_decide": can_regenerate,
        "can_regenerate": can_regenerate,
        "examples": regen_services.INSTRUCTION_EXAMPLES,
        "max_instruction": regen_services.MAX_INSTRUCTION,
    }
    if can_regenerate:
        context["sections"] = regen_services.split_sections(current.content)
        context["regen_form"] = regen_form or RegenerateForm(
            initial={"base_revision": current.pk, "key": uuid.uuid4().hex, "section": 0}
        )
    if draft.status == Draft.Status.OUTLINE_REVIEW:
        rows = outline_rows
        if rows is None:
            rows = [outline_services.OutlineRow(heading=s.get("heading", ""), instruction=s.get("instruction", ""))
                    for s in outline_services.outline_of(draft)]
        requester = draft.brief.requested_by
        context["outline"] = {
            "rows": rows,
            "error": outline_error,
            "can_approve": outline_services.may_approve_outline(user, draft),
            "requester": requester.get_full_name() or requester.get_username(),
            "max_sections": outline_services.MAX_SECTIONS,
            "max_heading": outline_services.MAX_HEADING,
            "max_instruction": outline_services.MAX_INSTRUCTION,
        }
    return context


def _draft_page(request: HttpRequest, draft: Draft, *, status: int, **extra: Any) -> HttpResponse:
    """The draft page again (a bad request: the person's input kept, with what was wrong)."""
    draft = selectors.draft_get_for_user(user=request.user, pk=draft.pk)
    return render(request, "editorial/draft.html", {**_draft_context(request, draft), **extra}, status=status)


def _to_proposal(draft: Draft, proposal_id: int) -> HttpResponse:
    return redirect(reverse("editorial:draft", args=[draft.pk]) + f"#proposal-{proposal_id}")


@login_required
@require_POST
def regenerate(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for a new version of one section; the proposal then streams into the page's panel."""
    draft = selectors.draft_get_for_user(user=request.user, pk=pk, action="edit")
    form = RegenerateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            proposal = regen_services.section_regenerate(
                draft=draft, user=request.user, section_index=data["section"], instruction=data["instruction"],
                idempotency_key=data["key"], base_revision_id=data["base_revision"],
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
        else:
            if not proposal.replayed:
                messages.success(request, f"Writing a new version of “{proposal.section_heading}”. The draft "
                                          "itself changes only if you accept it.")
            return _to_proposal(draft, proposal.pk)
    return _draft_page(request, draft, status=422, regen_form=form)


@login_required
@require_GET
def proposals(request: HttpRequest, pk: int) -> HttpResponse:
    """The proposal panel alone: the page swaps it in when a proposal starts, finishes or fails."""
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    context = regen_context(request, draft)
    return render(request, "editorial/_regen.html#proposals", context)


def _decide(request: HttpRequest, pk: int, proposal_id: int, *, accept: bool) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk, action="edit")
    proposal = get_object_or_404(Proposal, pk=proposal_id, draft=draft)  # another draft's: 404
    try:
        if accept:
            revision = regen_services.proposal_accept(draft=draft, user=request.user, proposal_id=proposal.pk)
        else:
            regen_services.proposal_dismiss(draft=draft, user=request.user, proposal_id=proposal.pk)
    except regen_services.ProposalConflict as exc:
        messages.error(request, error_text(exc))
        return _draft_page(request, draft, status=409)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return _draft_page(request, draft, status=409 if proposal.status != Proposal.Status.PENDING else 422)
    if accept:
        onto = revision.provenance.get("applied_onto")
        how = f" (applied onto r{onto['number']}, which had changed meanwhile)" if onto else ""
        messages.success(request, f"Accepted the new “{proposal.section_heading}”: r{revision.number} is the "
                                  f"current revision{how}.")
    else:
        messages.success(request, f"Dismissed the proposed “{proposal.section_heading}”; the draft is unchanged.")
    return redirect("editorial:draft", pk=draft.pk)


@login_required
@require_POST
def proposal_accept(request: HttpRequest, pk: int, proposal_id: int) -> HttpResponse:
    return _decide(request, pk, proposal_id, accept=True)


@login_required
@require_POST
def proposal_dismiss(request: HttpRequest, pk: int, proposal_id: int) -> HttpResponse:
    return _decide(request, pk, proposal_id, accept=False)


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
        return _draft_page(request, draft, status=422, outline_rows=exc.rows, outline_error=error_text(exc))
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        waiting = Draft.objects.filter(pk=draft.pk, status=Draft.Status.OUTLINE_REVIEW).exists()
        return _draft_page(request, draft, status=422 if waiting else 409)
    n = len(run.output["sections"])
    messages.success(request, f"Outline approved ({n} section{'s' if n != 1 else ''}). The draft is being written.")
    return redirect("editorial:draft", pk=draft.pk)
