"""The draft page's proposal panel: rewrite one section with an instruction, then accept or dismiss
the proposal."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from agents.pipeline import regenerate as regen_services
from editorial import selectors
from editorial.draftpage import draft_page_again, regen_panel_context
from editorial.forms import RegenerateForm
from editorial.models import Draft, Proposal
from governance.permissions import error_text


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
    return draft_page_again(request, draft, status=422, regen_form=form)


@login_required
@require_GET
def proposals(request: HttpRequest, pk: int) -> HttpResponse:
    """The proposal panel alone: the page swaps it in when a proposal starts, finishes or fails."""
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    return render(request, "editorial/_regen.html#proposals", regen_panel_context(user=request.user, draft=draft))


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
        return draft_page_again(request, draft, status=409)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return draft_page_again(request, draft, status=409 if proposal.status != Proposal.Status.PENDING else 422)
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
