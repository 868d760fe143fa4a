"""Sign-offs: a decision at a gate (by a signer, in bulk from the desk queue, or by an outside
reviewer through a single-use link) and overrides of blocking findings."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from editorial.models import Draft
from editorial.notifications import notify_approved, notify_sent_back
from editorial.transitions import draft_transition
from governance.audit import audit_log
from governance.gates import GateState, all_hard_gates_approved, gate_states, get_actions, unresolved_blocking_findings
from governance.models import Finding, FindingOverride, Gate, ReviewLink, SignOff
from governance.permissions import draft_policy, gate_policy


def _decide(
    *, draft: Draft, gate: Gate, decision: str, revision_id: int, comment: str, user: Any = None,
    external_recipient: str = "", policy: str = "",
) -> SignOff:
    """Record one decision at a gate; the caller holds the draft's row lock and checked who decides
    (a person, an outside reviewer's link, or a workflow's approval policy)."""
    signoff = SignOff.objects.create(
        draft=draft, revision_id=revision_id, gate=gate, user=user, external_recipient=external_recipient,
        policy=policy, decision=decision, comment=comment.strip(),
    )
    old_status = draft.status
    to, reason = old_status, None
    if decision == SignOff.Decision.APPROVE:
        if all_hard_gates_approved(gate_states(draft)):
            to = Draft.Status.APPROVED
    else:
        to = Draft.Status.CHANGES_REQUESTED if decision == SignOff.Decision.REQUEST_CHANGES else Draft.Status.REJECTED
        reason = comment.strip()
    draft_transition(
        draft=draft, to=to, reason=reason, action=f"governance.gate.{decision}", audit_obj=signoff, user=user,
        label=(f"approved by policy {policy}" if policy else f"external: {external_recipient}" if external_recipient
               else ""),
        data={"gate": gate.slug, "revision": revision_id, "comment": comment.strip(),
              **({"policy": policy} if policy else {})},
    )
    if decision == SignOff.Decision.REQUEST_CHANGES:
        notify_sent_back(draft=draft, actor=user, reason=comment.strip())
    elif draft.status == Draft.Status.APPROVED and old_status != Draft.Status.APPROVED:
        notify_approved(draft=draft, actor=user, by=f"policy {policy}" if policy else "")
    return signoff


def _check_decision(*, draft: Draft, gate: Gate, decision: str, revision_id: int, comment: str) -> GateState:
    if decision not in SignOff.Decision.values:
        raise ValidationError(f"Unknown decision {decision!r}.")
    if decision != SignOff.Decision.APPROVE and not comment.strip():
        raise ValidationError({"comment": "Say why: a reason is required to request changes or reject."})
    if draft.current_revision_id != revision_id:
        raise ValidationError("The draft changed since you opened it; review the latest revision and sign again.")
    state = next((s for s in gate_states(draft) if s.gate.pk == gate.pk), None)
    if state is None:
        raise ValidationError("This gate does not apply to this draft.")
    if state.status == "approved":
        raise ValidationError(f"{gate.name} is already signed.")
    if state.status == "waiting":
        raise ValidationError(f"{gate.name} opens once the earlier stage is signed.")
    if draft.status != Draft.Status.IN_REVIEW or state.status != "pending":
        raise ValidationError(f"{gate.name} cannot be signed while the draft is “{draft.get_status_display()}”.")
    if decision == SignOff.Decision.APPROVE:
        blocking = unresolved_blocking_findings(draft)
        if blocking:
            raise ValidationError(
                f"{len(blocking)} blocking finding{'s' if len(blocking) != 1 else ''} must be fixed or overridden "
                "with a justification before approval."
            )
    return state


@transaction.atomic
def signoff_record(
    *, draft: Draft, gate: Gate, user: Any, decision: str, revision_id: int, comment: str = ""
) -> SignOff:
    """Sign a gate for the revision the reviewer saw. Re-checks everything under the draft's lock."""
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief", "current_revision").get(pk=draft.pk)
    state = _check_decision(draft=draft, gate=gate, decision=decision, revision_id=revision_id, comment=comment)
    if decision not in get_actions(draft, state, user, blocking=[]):
        raise PermissionDenied(f"You cannot sign the {gate.name} gate.")
    return _decide(draft=draft, gate=gate, decision=decision, revision_id=revision_id, comment=comment, user=user)


@transaction.atomic
def finding_override(*, finding: Finding, user: Any, justification: str) -> FindingOverride:
    """Let a blocking finding stand, with a written reason, by someone allowed to."""
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=finding.revision.draft_id)
    if not draft_policy.user_has_permission_for_instance(user, "view", draft):
        raise PermissionDenied("You cannot act on this draft.")
    if not user.has_perm("governance.override_finding"):
        raise PermissionDenied("Overriding a blocking finding needs the override permission.")
    if len(justification.strip()) < 10:
        raise ValidationError({"justification": "Write a justification (at least 10 characters)."})
    if finding.severity != Finding.Severity.BLOCKING:
        raise ValidationError("Only blocking findings need an override.")
    if finding.revision_id != draft.current_revision_id:
        raise ValidationError("This finding belongs to an older revision.")
    if FindingOverride.objects.filter(finding=finding).exists():
        raise ValidationError("This finding was already overridden.")
    override = FindingOverride.objects.create(finding=finding, user=user, justification=justification.strip())
    audit_log(
        action="governance.finding.override",
        obj=finding,
        user=user,
        data={"draft": draft.pk, "revision": finding.revision_id, "finding": finding.pk,
              "category": finding.category, "text": finding.text, "justification": override.justification},
    )
    return override


REVIEW_LINK_MAX_HOURS = 24 * 14


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def review_link_create(
    *, draft: Draft, gate: Gate, user: Any, recipient: str, hours: int = 72
) -> tuple[ReviewLink, str]:
    """An expiring, single-use link for an outside reviewer. Returns the link and its token (shown once)."""
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=draft.pk)
    if not gate_policy.user_can_sign(user, gate, draft):
        raise PermissionDenied(f"Only signers of the {gate.name} gate can send a review link for it.")
    if not recipient.strip():
        raise ValidationError({"recipient": "Say who receives the link."})
    longest = ReviewLink._meta.get_field("recipient").max_length
    if len(recipient.strip()) > longest:
        raise ValidationError({"recipient": f"Name the recipient in at most {longest} characters."})
    if not 1 <= hours <= REVIEW_LINK_MAX_HOURS:
        raise ValidationError({"hours": f"A link lasts between 1 and {REVIEW_LINK_MAX_HOURS} hours."})
    state = next((s for s in gate_states(draft) if s.gate.pk == gate.pk), None)
    if draft.status != Draft.Status.IN_REVIEW or state is None or state.status not in ("pending", "waiting"):
        raise ValidationError(f"{gate.name} is not open for review.")
    token = secrets.token_urlsafe(32)
    link = ReviewLink.objects.create(
        draft=draft, gate=gate, revision_id=draft.current_revision_id, token_hash=_token_hash(token),
        recipient=recipient.strip(), created_by=user, expires_at=timezone.now() + timedelta(hours=hours),
    )
    audit_log(action="governance.review_link.create", obj=link, user=user,
              data={"draft": draft.pk, "gate": gate.slug, "recipient": link.recipient, "hours": hours})
    return link, token


def review_link_get(*, draft_id: int, token: str) -> ReviewLink:
    """The link for this token and this draft, if it can still be used; else a clear ValidationError."""
    link = (
        ReviewLink.objects.select_related("draft__brief", "gate", "revision")
        .filter(token_hash=_token_hash(token)).first()
    )
    if link is None or link.draft_id != draft_id:
        raise ValidationError("This review link is not valid for this item.")
    if link.used_at is not None:
        raise ValidationError("This review link has already been used.")
    if link.expires_at <= timezone.now():
        raise ValidationError("This review link has expired. Ask the sender for a new one.")
    return link


@transaction.atomic
def review_link_decide(*, draft_id: int, token: str, decision: str, comment: str = "") -> SignOff:
    """The outside reviewer's decision: approve or reject, once, on the revision they were sent."""
    if decision not in (SignOff.Decision.APPROVE, SignOff.Decision.REJECT):
        raise ValidationError("An outside reviewer can approve or reject.")
    ReviewLink.objects.select_for_update().filter(token_hash=_token_hash(token)).first()  # serialise double clicks
    link = review_link_get(draft_id=draft_id, token=token)
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief", "current_revision").get(pk=draft_id)
    if draft.current_revision_id != link.revision_id:
        raise ValidationError("The item changed after this link was sent; ask the sender for a new link.")
    _check_decision(draft=draft, gate=link.gate, decision=decision, revision_id=link.revision_id, comment=comment)
    signoff = _decide(draft=draft, gate=link.gate, decision=decision, revision_id=link.revision_id,
                      comment=comment, external_recipient=link.recipient)
    link.used_at, link.signoff = timezone.now(), signoff
    link.save(update_fields=["used_at", "signoff"])
    return signoff


def signoff_refusal(
    *, draft: Draft, user: Any, decision: str, states: list[GateState], blocking: list[Finding]
) -> str:
    """Why this user cannot take this decision at any gate of the draft now (for a queue row or a shortcut)."""
    if draft.status != Draft.Status.IN_REVIEW:
        return f"it is “{draft.get_status_display()}”, not in review"
    if decision == "approve" and blocking and any(get_actions(draft, s, user, blocking=blocking) for s in states):
        n = len(blocking)
        return f"{n} blocking finding{'s' if n != 1 else ''} must be fixed or overridden first"
    return "none of its open gates is yours to sign"


def signoffs_bulk(
    *, draft: Draft, user: Any, decision: str, comment: str = "", revision_id: int | None = None
) -> list[SignOff]:
    """One row of the desk queue's bulk action: approve every gate of the draft this user may sign
    now, or send it back from the earliest one. All of the row's gates are signed, or none (raises
    PermissionDenied with `signoff_refusal`'s reason when there is nothing to sign)."""
    states = gate_states(draft)
    blocking = unresolved_blocking_findings(draft)
    open_states = [s for s in states if decision in get_actions(draft, s, user, blocking=blocking)]
    if not open_states:
        raise PermissionDenied(signoff_refusal(draft=draft, user=user, decision=decision, states=states,
                                               blocking=blocking))
    if decision == SignOff.Decision.REQUEST_CHANGES:
        open_states = open_states[:1]  # sent back from the earliest open gate (Editorial, usually)
    revision_id = revision_id or draft.current_revision_id
    signoffs: list[SignOff] = []
    with transaction.atomic():
        for index, state in enumerate(open_states):
            if index and Draft.objects.filter(pk=draft.pk).values_list("status", flat=True).get() != "in_review":
                break  # the hard gates are all signed now; nothing left to approve
            signoffs.append(signoff_record(draft=draft, gate=state.gate, user=user, decision=decision,
                                           revision_id=revision_id, comment=comment))
    return signoffs


def policy_approval_refusal(*, draft: Draft, quality_clean: bool) -> str | None:
    """Why the draft's workflow may not approve it by policy now (None: it may). The caller (the
    pipeline, which knows how its sections fared) says whether the quality check was clean."""
    workflow = draft.workflow
    if workflow is None or not workflow.policy_approval:
        return "its workflow does not approve by policy"
    if not draft.brand.policy_approvals:
        return f"approvals by policy are switched off for {draft.brand}"
    if draft.status != Draft.Status.IN_REVIEW:
        return f"it is “{draft.get_status_display()}”, not in review"
    if draft.brief.risk != "low":
        return f"its risk is {draft.brief.risk}, not low"
    above_info = Finding.objects.filter(revision_id=draft.current_revision_id).exclude(severity=Finding.Severity.INFO)
    if above_info.exists():
        return "it has findings above info"
    if not quality_clean:
        return "its quality check was not clean"
    return None


def policy_name(workflow: Any) -> str:
    return f"“{workflow.name}” low-risk auto-approval"


def policy_approved(*, draft: str = "pk", revision: str = "current_revision") -> Exists:
    """For a queryset filter or aggregate: the row's draft (`draft`, a field path) has its current
    revision (`revision`) approved by a workflow's policy rather than a person."""
    return Exists(SignOff.objects.filter(draft=OuterRef(draft), revision=OuterRef(revision),
                                         decision=SignOff.Decision.APPROVE).exclude(policy=""))


def policy_approvals(draft_ids: list[int]) -> dict[int, str]:
    """Draft id → the policy that approved its current revision, for those that have one (one query;
    the badge in lists)."""
    if not draft_ids:
        return {}
    return dict(SignOff.objects.filter(draft_id__in=draft_ids, revision_id=F("draft__current_revision_id"),
                                       decision=SignOff.Decision.APPROVE).exclude(policy="")
                .order_by("draft_id", "id").values_list("draft_id", "policy"))


def approving_policy(draft: Draft) -> str:
    """The approval policy that signed the draft's current revision ("" when only people did)."""
    return (SignOff.objects.filter(draft=draft, revision_id=draft.current_revision_id,
                                   decision=SignOff.Decision.APPROVE)
            .exclude(policy="").order_by("-id").values_list("policy", flat=True).first() or "")


@transaction.atomic
def signoffs_by_policy(*, draft: Draft, quality_clean: bool) -> list[SignOff]:
    """Sign every open gate of a low-risk draft whose workflow approves by policy, stage by stage,
    through the same decision path as a person (audited "approved by policy <name>"). Raises
    PermissionDenied with the reason when the draft does not qualify, e.g. the brand switched
    approvals by policy off."""
    draft = Draft.objects.select_for_update(of=("self",)).select_related(
        "brief", "brand", "workflow", "current_revision").get(pk=draft.pk)
    refusal = policy_approval_refusal(draft=draft, quality_clean=quality_clean)
    if refusal:
        raise PermissionDenied(f"Not approved by policy: {refusal}.")
    name = policy_name(draft.workflow)
    signoffs: list[SignOff] = []
    while draft.status == Draft.Status.IN_REVIEW:
        pending = [s for s in gate_states(draft) if s.status == "pending"]
        if not pending:
            break
        for state in pending:
            signoffs.append(_decide(
                draft=draft, gate=state.gate, decision=SignOff.Decision.APPROVE, revision_id=draft.current_revision_id,
                comment="Low risk, no finding above info, clean quality check.", policy=name,
            ))
    return signoffs
