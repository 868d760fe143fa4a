"""Rollback impact: what a model or template version produced, and sending it all back to review.

A send-back writes a new revision with the same text (`editorial.revisions.revision_create`) and
moves the draft to review through `editorial.transitions.draft_transition`, each draft in its own
transaction and audited.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q

from agents.models import ModelVersion, PromptTemplateVersion
from agents.modelops.templates import may_activate_template
from agents.modelops.versions import may_activate_model
from editorial.models import Draft, Revision
from editorial.revisions import REVIEW_RESET_STATUSES, revision_review_reset

log = logging.getLogger(__name__)

# --- rollback impact -----------------------------------------------------------------------------

@dataclass
class ImpactRow:
    draft: Any
    via: list[str]

    @property
    def was_published(self) -> bool:
        return self.draft.published_revision_id is not None


def _impact_filter(*, model_version: ModelVersion | None, prompt_version: PromptTemplateVersion | None) -> Q:
    if (model_version is None) == (prompt_version is None):
        raise ValueError("Give exactly one of model_version and prompt_version.")
    if model_version is not None:
        return Q(model_version=model_version) | Q(revisions__author_run__model_version=model_version)
    return Q(prompt_version=prompt_version) | Q(revisions__author_run__prompt_version=prompt_version)


def rollback_impact(
    *, model_version: ModelVersion | None = None, prompt_version: PromptTemplateVersion | None = None
) -> list[ImpactRow]:
    """Every draft (and so every published piece) the version produced: drafts assigned to it, and
    drafts with a revision written by a run that used it."""
    drafts = list(
        Draft.objects.filter(_impact_filter(model_version=model_version, prompt_version=prompt_version))
        .distinct()
        .select_related("brand", "model_version", "prompt_version__template", "current_revision",
                        "published_revision")
        .order_by("-created_at", "-id")
    )
    run_field = "author_run__model_version" if model_version is not None else "author_run__prompt_version"
    target = model_version or prompt_version
    by_draft: dict[int, list[int]] = {}
    for draft_id, number in (Revision.objects.filter(draft__in=drafts, **{run_field: target})
                             .order_by("number").values_list("draft_id", "number")):
        by_draft.setdefault(draft_id, []).append(number)
    rows = []
    for draft in drafts:
        via = []
        if (draft.model_version_id if model_version is not None else draft.prompt_version_id) == target.pk:
            via.append("assigned to this version")
        if by_draft.get(draft.pk):
            via.append("wrote " + ", ".join(f"r{n}" for n in by_draft[draft.pk]))
        rows.append(ImpactRow(draft=draft, via=via))
    return rows


def version_label(*, model_version: ModelVersion | None = None,
                  prompt_version: PromptTemplateVersion | None = None) -> str:
    if model_version is not None:
        return f"model version “{model_version.name}”"
    return f"prompt template “{prompt_version.template.name}” v{prompt_version.number}"


def _skip_reason(draft: Any) -> str | None:
    S = Draft.Status
    return {
        S.GENERATING: "still generating: it is sent back once it has text, if you run this again then",
        S.OUTLINE_REVIEW: "its outline waits for approval; it has no text yet",
        S.FAILED: "its generation failed; it has no reviewed text",
        S.NEEDS_HUMAN: "its generation stopped and needs a human; it has no reviewed text",
        S.CHANGES_REQUESTED: "changes were already requested; its next revision goes through review anyway",
        S.REJECTED: "it was rejected and will not be published",
        S.RETRACTED: "it was retracted and is no longer at the CMS",
    }.get(draft.status) if draft.current_revision_id or draft.status == S.GENERATING else "it has no text yet"


SEND_BACK_STATUSES = REVIEW_RESET_STATUSES


@dataclass
class SendBackPlan:
    to_move: list[Any]
    to_skip: list[tuple[Any, str]]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for draft in self.to_move:
            out[draft.get_status_display()] = out.get(draft.get_status_display(), 0) + 1
        return out


def send_back_plan(*, model_version: ModelVersion | None = None,
                   prompt_version: PromptTemplateVersion | None = None) -> SendBackPlan:
    plan = SendBackPlan(to_move=[], to_skip=[])
    for row in rollback_impact(model_version=model_version, prompt_version=prompt_version):
        if row.draft.status in SEND_BACK_STATUSES and row.draft.current_revision_id:
            plan.to_move.append(row.draft)
        else:
            plan.to_skip.append((row.draft, _skip_reason(row.draft) or f"it is “{row.draft.get_status_display()}”"))
    return plan


@dataclass
class SendBackResult:
    moved: list[tuple[Any, str]] = field(default_factory=list)  # (draft, old status)
    skipped: list[tuple[Any, str]] = field(default_factory=list)  # (draft, why)


def _may_send_back(user: Any, model_version: ModelVersion | None, prompt_version: PromptTemplateVersion | None) -> bool:
    if model_version is not None:
        return may_activate_model(user, model_version)
    return may_activate_template(user, prompt_version.template)


def drafts_send_back(
    *, user: Any, model_version: ModelVersion | None = None, prompt_version: PromptTemplateVersion | None = None,
    reason: str = "",
) -> SendBackResult:
    """Move every in-review, approved or published draft the version produced back to review, each
    in its own transaction (one draft's failure does not undo the others), audited per draft.

    Sign-offs bind to revisions (governance/gates.py), so each draft gets a new revision with the
    same text, marked `review_reset` in its provenance; sign-offs on revisions before a reset never
    count again, whatever the gate's "re-approve on change" setting. Published pieces stay at the
    CMS until they are re-approved and published again (which sends an "updated" event)."""
    if not _may_send_back(user, model_version, prompt_version):
        raise PermissionDenied("Sending a version's drafts back to review needs the permission to activate "
                               "and roll back that version.")
    label = version_label(model_version=model_version, prompt_version=prompt_version)
    why = f"Sent back to review: produced by {label}, which was rolled back."
    if reason.strip():
        why += f" {reason.strip()}"
    result = SendBackResult()
    for row in rollback_impact(model_version=model_version, prompt_version=prompt_version):
        try:
            outcome = _send_back_one(draft_id=row.draft.pk, user=user, why=why, label=label,
                                     model_version=model_version, prompt_version=prompt_version)
        except Exception as exc:  # report it and go on with the others
            log.exception("send back of draft %s failed", row.draft.pk)
            outcome = ("skip", f"could not be sent back: {exc}")
        draft = Draft.objects.get(pk=row.draft.pk)
        if outcome[0] == "moved":
            result.moved.append((draft, outcome[1]))
        else:
            result.skipped.append((draft, outcome[1]))
    return result


@transaction.atomic
def _send_back_one(*, draft_id: int, user: Any, why: str, label: str, model_version: ModelVersion | None,
                   prompt_version: PromptTemplateVersion | None) -> tuple[str, str]:
    # Lock order: the draft row first, then the audit chain (revision_create and audit_log below).
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief", "current_revision").get(pk=draft_id)
    if draft.status not in SEND_BACK_STATUSES or draft.current_revision_id is None:
        return ("skip", _skip_reason(draft) or f"it is “{draft.get_status_display()}”")
    old_status = draft.status
    revision_review_reset(
        draft=draft, user=user, why=why, action="agents.rollback.send_back",
        reset={"version": label, "model_version": model_version.pk if model_version else None,
               "prompt_version": prompt_version.pk if prompt_version else None},
    )
    return ("moved", old_status)
