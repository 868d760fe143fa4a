"""Drafts approved by a workflow's policy rather than a person (governance/signoffs.py
`signoffs_by_policy`), in the desk: the queue filter and, per row, the policy's name for the badge."""
from __future__ import annotations

from django.db.models import Exists, F, OuterRef, Q

from governance.models import SignOff


def approved_by_policy() -> Q:
    """Drafts whose current revision was signed by an approval policy."""
    return Q(Exists(SignOff.objects.filter(draft=OuterRef("pk"), revision=OuterRef("current_revision"),
                                           decision=SignOff.Decision.APPROVE).exclude(policy="")))


def policy_approvals(draft_ids: list[int]) -> dict[int, str]:
    """Draft id → the policy that approved its current revision, for the rows that have one (one query)."""
    if not draft_ids:
        return {}
    return dict(SignOff.objects.filter(draft_id__in=draft_ids, revision_id=F("draft__current_revision_id"),
                                       decision=SignOff.Decision.APPROVE).exclude(policy="")
                .order_by("draft_id", "id").values_list("draft_id", "policy"))
