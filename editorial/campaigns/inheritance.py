"""A variant's gates that inherit from the master: satisfied by the master's sign-off when the
sentences the variant changed raise no new findings; otherwise they need their own sign-off, and the
page says why. Registered as a gate state hook (governance/gates.py), which never imports this."""
from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from agents.grounding import split_sentences
from editorial.campaigns.models import InheritedGate, Variant
from editorial.models import Draft
from editorial.transitions import draft_transition
from governance.gates import GateState, all_hard_gates_approved, gate_states
from governance.models import Finding


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def master_text(variant: Variant) -> str:
    """What the variant is compared with: the master text it was written from, else the master's
    current text (a variant written in parallel)."""
    revision = variant.master_revision or variant.master.current_revision
    return revision.content if revision else ""


def new_findings(variant: Variant) -> list[Finding]:
    """Findings of the variant's current revision that the master's text did not raise: in a sentence
    the master does not have, and not the same finding (category and text) as one of the master's."""
    revision = variant.draft.current_revision
    if revision is None:
        return []
    base = variant.master_revision or variant.master.current_revision
    base_sentences = {_normal(s.text) for s in split_sentences(base.content)} if base else set()
    known = {(f.category, _normal(f.text)) for f in base.findings.all()} if base else set()
    sentences = split_sentences(revision.content)
    found = []
    for finding in revision.findings.order_by("id"):
        if (finding.category, _normal(finding.text)) in known:
            continue
        if finding.start is not None:
            around = [s for s in sentences if s.start <= finding.start < max(s.end, s.start + 1)]
            if around and all(_normal(s.text) in base_sentences for s in around):
                continue  # a sentence the master has word for word: the master's sign-off covered it
        found.append(finding)
    return found


def variant_gate_inheritance(draft: Any, states: list[GateState]) -> None:
    """Settle the variant's inheriting gates from the master's sign-off, or say why they cannot be."""
    variant = Variant.objects.filter(draft_id=draft.pk).select_related(
        "master", "master_revision", "draft__current_revision").first()
    if variant is None:
        return
    inheriting = set(InheritedGate.objects.filter(gate__in=[s.gate for s in states]).values_list("gate_id", flat=True))
    open_states = [s for s in states if s.gate.pk in inheriting and s.status == "pending"]
    if not open_states:
        return
    master_states = {s.gate.slug: s for s in gate_states(variant.master)}
    fresh = new_findings(variant)
    for state in open_states:
        master_state = master_states.get(state.gate.slug)
        if master_state is None or master_state.status != "approved" or master_state.signoff is None:
            state.note = "Inherits from the master, but the master's “{}” gate is not signed yet.".format(
                state.gate.name)
            continue
        if fresh:
            listed = "; ".join(f"{f.category}: {f.message}" for f in fresh[:3])
            more = f" (and {len(fresh) - 3} more)" if len(fresh) > 3 else ""
            state.note = (f"Needs its own sign-off: the sentences this variant changed raise "
                          f"{len(fresh)} finding{'s' if len(fresh) != 1 else ''} the master did not have — "
                          f"{listed}{more}.")
            continue
        signer = master_state.signoff.user
        state.status, state.signoff, state.inherited_from = "approved", master_state.signoff, master_state.signoff
        state.note = ("Inherited from the master's sign-off"
                      + (f" by {signer.get_full_name() or signer.get_username()}" if signer else "")
                      + ": the sentences this variant changed raise no new findings.")


@transaction.atomic
def variant_settle(*, draft_id: int) -> bool:
    """A variant in review whose every hard gate is now satisfied (some by the master's sign-off, so
    nobody signs it again) is approved, audited with the sign-offs it inherited. Called on commit when
    a variant reaches review, when its master is approved, and by the grid's bulk approval."""
    draft = Draft.objects.select_for_update(of=("self",)).filter(pk=draft_id, variant__isnull=False).first()
    if draft is None or draft.status != Draft.Status.IN_REVIEW:
        return False
    states = gate_states(draft)
    inherited = [s for s in states if s.inherited_from is not None]
    if not inherited or not all_hard_gates_approved(states):
        return False
    draft_transition(draft=draft, to=Draft.Status.APPROVED, action="campaigns.variant.approve_inherited",
                     label="inherited from the master's sign-off",
                     data={"inherited": [{"gate": s.gate.slug, "signoff": s.inherited_from.pk} for s in inherited]})
    return True
