"""Which gates a draft needs, why, where each stands, and what a user may do at each."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from django.db.models import Q

from governance.models import RISK_ORDER, Finding, Gate, SignOff, Workflow
from governance.permissions import gate_policy

ACTIONS = ("approve", "request_changes", "reject")


def workflow_for(*, brand: Any, channel: str) -> Workflow | None:
    """Most specific active workflow: brand + channel, then brand, then channel, then global."""
    candidates = Workflow.objects.filter(Q(brand=brand) | Q(brand__isnull=True), is_active=True)

    def score(wf: Workflow) -> tuple[int, int]:
        return (wf.brand_id is not None, bool(wf.channels))

    matching = [wf for wf in candidates if not wf.channels or channel in wf.channels]
    return max(matching, key=score, default=None)


def _why_gate_applies(gate: Gate, *, risk: str, channel: str, finding_categories: set[str]) -> str | None:
    if gate.channels and channel not in gate.channels:
        return None
    found = finding_categories & set(gate.finding_categories or [])
    if found:
        return f"findings of category {', '.join(sorted(found))}"
    if RISK_ORDER[risk] >= RISK_ORDER[gate.min_risk]:
        if gate.min_risk == "low":
            return "every draft in this workflow"
        return f"risk {risk} ≥ {gate.min_risk}"
    return None


@dataclass
class GateState:
    gate: Gate
    reason: str
    stage_order: int
    status: str = "pending"  # pending | waiting (earlier stage open) | approved | changes_requested | rejected
    signoff: SignOff | None = None
    history: list[SignOff] = field(default_factory=list)
    # When an edit re-opened this gate: the approval it had, to show its reviewer what changed since.
    reopened_from: SignOff | None = None
    # Set by a gate state hook: the sign-off (of another draft) this gate takes as its own, and what
    # the page says about it (why it was inherited, or why it needs its own sign-off).
    inherited_from: SignOff | None = None
    note: str = ""

    @property
    def status_label(self) -> str:
        return self.status.replace("_", " ").capitalize()

    @property
    def is_hard(self) -> bool:
        return self.gate.kind == Gate.Kind.HARD


# Hooks (draft, states) -> None that may settle a pending state from elsewhere (a campaign's variant
# inheriting its master's sign-off) or add a note; registered by higher layers, never imported here.
GATE_STATE_HOOKS: list[Callable[[Any, list[GateState]], None]] = []


def gate_state_hook_register(hook: Callable[[Any, list[GateState]], None]) -> None:
    if hook not in GATE_STATE_HOOKS:
        GATE_STATE_HOOKS.append(hook)


def gate_states(draft: Any) -> list[GateState]:
    """Applicable gates in stage order with their current status for the draft's current revision."""
    if draft.workflow_id is None:
        return []
    revision = draft.current_revision
    categories = set(revision.findings.values_list("category", flat=True)) if revision else set()
    gates = Gate.objects.filter(stage__workflow_id=draft.workflow_id).select_related("stage", "group")
    signoffs = list(
        SignOff.objects.filter(draft=draft).select_related("user", "revision").order_by("created_at", "id")
    )
    # A send-back to review (agents.modelops.drafts_send_back) marks a revision `review_reset`:
    # sign-offs on revisions before it no longer count, whatever "re-approve on change" says.
    reset_from = (
        draft.revisions.filter(provenance__has_key="review_reset").order_by("-number").values_list("number", flat=True)
        .first()
    )
    states: list[GateState] = []
    for gate in gates:
        reason = _why_gate_applies(
            gate, risk=draft.brief.risk, channel=draft.brief.channel, finding_categories=categories
        )
        if reason is None:
            continue
        state = GateState(gate=gate, reason=reason, stage_order=gate.stage.order)
        state.history = [s for s in signoffs if s.gate_id == gate.id]
        counting = [s for s in state.history if reset_from is None or s.revision.number >= reset_from]
        latest = counting[-1] if counting else None
        if latest is not None:
            counts = latest.revision_id == draft.current_revision_id or not gate.reapprove_on_change
            if not counts and latest.decision == SignOff.Decision.APPROVE:
                state.reopened_from = latest
            if counts or latest.decision != SignOff.Decision.APPROVE:
                state.signoff = latest
                state.status = {
                    SignOff.Decision.APPROVE: "approved",
                    SignOff.Decision.REQUEST_CHANGES: "changes_requested",
                    SignOff.Decision.REJECT: "rejected",
                }[latest.decision]
                # A request for changes is answered by a new revision: the gate opens again.
                if latest.decision == SignOff.Decision.REQUEST_CHANGES and latest.revision_id != draft.current_revision_id:
                    state.status, state.signoff = "pending", None
        states.append(state)
    for hook in GATE_STATE_HOOKS:
        hook(draft, states)
    open_hard_stage = min(
        (s.stage_order for s in states if s.is_hard and s.status != "approved"), default=None
    )
    for s in states:
        if s.status == "pending" and open_hard_stage is not None and s.stage_order > open_hard_stage:
            s.status = "waiting"
    return states


def all_hard_gates_approved(states: list[GateState]) -> bool:
    return bool(states) and all(s.status == "approved" for s in states if s.is_hard)


def unresolved_blocking_findings(draft: Any) -> list[Finding]:
    """Blocking findings of the current revision that nobody has overridden."""
    if draft.current_revision_id is None:
        return []
    return list(
        Finding.objects.filter(revision_id=draft.current_revision_id, severity=Finding.Severity.BLOCKING,
                               override__isnull=True)
    )


def get_actions(draft: Any, state: GateState, user: Any, *, blocking: list[Finding] | None = None) -> list[str]:
    """The buttons `user` gets at this gate now; `signoff_record` checks the same again.

    Approval is withheld while blocking findings stand; changes can still be requested."""
    if draft.status != "in_review" or state.status != "pending":
        return []
    if not gate_policy.user_can_sign(user, state.gate, draft):
        return []
    if blocking is None:
        blocking = unresolved_blocking_findings(draft)
    return [a for a in ACTIONS if a != "approve" or not blocking]
