"""/api/v1 routes of the proposal panel: rewrite one section with an instruction, then accept or dismiss
the proposal. The same selectors and services as editorial/views/rewrites.py, so the API allows exactly
what the page allows. A POST's `Idempotency-Key` also keys the rewrite's run, so a retried request
starts one."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status

from agents.models import RunSection
from agents.pipeline import regenerate as regen_services
from editorial import selectors
from editorial.api.drafts import revision_out
from editorial.models import Draft, Proposal
from editorial.schemas import NO_NUL, ErrorOut, Id, InputSchema, PathId, RevisionOut, StrictInt, errors
from editorial.sections import split_sections
from governance.permissions import api_scope_required

router = Router(tags=["proposals and outlines"])


class ProposalIn(InputSchema):
    section_index: StrictInt = Field(..., ge=0, le=999, description="0 for the first `## ` section of the current revision")
    instruction: str = Field(..., min_length=1, max_length=regen_services.MAX_INSTRUCTION, pattern=NO_NUL,
                             description="How the section should change, e.g. “shorter, warmer, cite the source”")
    base_revision: Id | None = Field(None, description="The revision the client saw; refused when no longer current")


class ProposalOut(Schema):
    id: int
    draft_id: int
    status: str = Field(..., description="running, pending, accepted, dismissed or failed")
    section_index: int
    section_heading: str
    instruction: str
    base_revision_id: int
    revision_id: int | None = Field(None, description="The proposed revision (not current until accepted)")
    text: str = Field("", description="The proposed text of the section, or what is written so far")
    error: str = ""
    requested_by: str
    decided_by: str | None = None
    created_at: datetime
    decided_at: datetime | None = None


class AcceptedOut(Schema):
    proposal: ProposalOut
    revision: RevisionOut
    draft_status: str
    applied_onto: int | None = Field(None, description="Number of the newer revision the section was applied onto")


class ConflictProblemOut(ErrorOut):
    title: str = "Conflict"
    status: int = 409
    code: str | None = "proposal_conflict"



def _name(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def proposal_out(p: Proposal) -> dict[str, Any]:
    text = ""
    if p.revision_id:
        sections = split_sections(p.revision.content)
        text = sections[p.section_index].body if p.section_index < len(sections) else ""
    elif p.status == Proposal.Status.RUNNING:
        text = RunSection.objects.filter(run_id=p.run_id, index=p.section_index).values_list("text", flat=True).first() or ""
    return {
        "id": p.pk, "draft_id": p.draft_id, "status": p.status, "section_index": p.section_index,
        "section_heading": p.section_heading, "instruction": p.instruction, "base_revision_id": p.base_revision_id,
        "revision_id": p.revision_id, "text": text, "error": p.run.error if p.status == Proposal.Status.FAILED else "",
        "requested_by": _name(p.requested_by), "decided_by": _name(p.decided_by), "created_at": p.created_at,
        "decided_at": p.decided_at,
    }


def _proposal(draft: Draft, proposal_id: int) -> Proposal:
    proposal = (Proposal.objects.select_related("revision", "run", "requested_by", "decided_by")
                .filter(pk=proposal_id, draft=draft).first())
    if proposal is None:
        raise Http404("No such proposal of this draft.")
    return proposal


@router.post("/drafts/{draft_id}/proposals", operation_id="createProposal",
             response={202: ProposalOut, **errors(404, 422)})
def create_proposal(request: HttpRequest, draft_id: PathId, payload: ProposalIn):
    """Rewrite one section with an instruction. The answer is the proposal, `running`; follow it with GET
    (or the draft's WebSocket). The draft's current revision does not change until it is accepted."""
    api_scope_required(request, "write")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id, action="edit")
    proposal = regen_services.section_regenerate(
        draft=draft, user=request.user, section_index=payload.section_index, instruction=payload.instruction,
        idempotency_key=request.headers.get("Idempotency-Key", ""), base_revision_id=payload.base_revision,
    )
    return Status(202, proposal_out(_proposal(draft, proposal.pk)))


@router.get("/drafts/{draft_id}/proposals", operation_id="listProposals",
            response={200: list[ProposalOut], **errors(404, 422)})
def list_proposals(request: HttpRequest, draft_id: PathId):
    """The draft's proposals, newest first (the latest 100)."""
    api_scope_required(request, "read")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id)
    proposals = (Proposal.objects.filter(draft=draft).select_related("revision", "run", "requested_by", "decided_by")
                 .order_by("-created_at", "-id")[:100])
    return [proposal_out(p) for p in proposals]


@router.get("/drafts/{draft_id}/proposals/{proposal_id}", operation_id="getProposal",
            response={200: ProposalOut, **errors(404, 422)})
def get_proposal(request: HttpRequest, draft_id: PathId, proposal_id: PathId):
    api_scope_required(request, "read")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id)
    return proposal_out(_proposal(draft, proposal_id))


@router.post("/drafts/{draft_id}/proposals/{proposal_id}/accept", operation_id="acceptProposal",
             response={200: AcceptedOut, 409: ConflictProblemOut, **errors(404, 422)})
def accept_proposal(request: HttpRequest, draft_id: PathId, proposal_id: PathId):
    """Make the proposal current (or apply its section onto a newer revision where that section is
    unchanged). 409 when the section changed meanwhile, or the proposal was decided already."""
    api_scope_required(request, "write")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id, action="edit")
    proposal = _proposal(draft, proposal_id)
    try:
        revision = regen_services.proposal_accept(draft=draft, user=request.user, proposal_id=proposal.pk)
    except regen_services.ProposalConflict as exc:
        return Status(409, {"detail": " ".join(exc.messages)})
    except ValidationError as exc:
        if proposal.status in (Proposal.Status.ACCEPTED, Proposal.Status.DISMISSED):
            return Status(409, {"detail": " ".join(exc.messages), "code": "already_decided"})
        raise
    draft.refresh_from_db(fields=["status"])
    onto = revision.provenance.get("applied_onto")
    return {"proposal": proposal_out(_proposal(draft, proposal.pk)), "revision": revision_out(revision),
            "draft_status": draft.status, "applied_onto": onto["number"] if onto else None}


@router.post("/drafts/{draft_id}/proposals/{proposal_id}/dismiss", operation_id="dismissProposal",
             response={200: ProposalOut, 409: ConflictProblemOut, **errors(404, 422)})
def dismiss_proposal(request: HttpRequest, draft_id: PathId, proposal_id: PathId):
    api_scope_required(request, "write")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id, action="edit")
    proposal = _proposal(draft, proposal_id)
    try:
        regen_services.proposal_dismiss(draft=draft, user=request.user, proposal_id=proposal.pk)
    except ValidationError as exc:
        if proposal.status in (Proposal.Status.ACCEPTED, Proposal.Status.DISMISSED):
            return Status(409, {"detail": " ".join(exc.messages), "code": "already_decided"})
        raise
    return proposal_out(_proposal(draft, proposal.pk))
