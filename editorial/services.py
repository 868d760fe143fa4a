"""Every write to briefs, drafts and revisions."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from agents.models import KnowledgeDocument, PromptTemplate
from agents.pipeline.steps import model_version_for_brief, pipeline_start
from agents.triage import brief_triage, triage_risk_audit
from editorial.models import Brief, Draft, Revision
from editorial.realtime import push_queue_event
from editorial.revisions import person_revision_followup, revision_create
from governance.audit import audit_log
from governance.gates import workflow_for
from governance.models import Brand, Gate
from governance.permissions import brands_for_user, draft_policy
from governance.workflows import workflow_problems

MAX_CONTENT_CHARS = 200_000


@transaction.atomic
def brief_create(
    *,
    user: Any,
    brand: Brand,
    title: str,
    goal: str,
    audience: str,
    channel: str,
    tone: str,
    risk: str,
    template: PromptTemplate,
    sources: list[KnowledgeDocument] | None = None,
) -> Draft:
    """File a brief; its draft appears as "generating" and the pipeline starts on commit."""
    if not user.has_perm("editorial.add_brief") or not brands_for_user(user).filter(pk=brand.pk).exists():
        raise PermissionDenied("You cannot file briefs for this brand.")
    if template.active_version_id is None:
        raise ValidationError({"template": "This template has no active version yet."})
    sources = sources or []
    workflow = workflow_for(brand=brand, channel=channel)
    if workflow is None:
        raise ValidationError(f"No review workflow covers {brand} on the {channel} channel; ask an admin to add one.")
    problems = workflow_problems(workflow)
    if problems:
        raise ValidationError(f"The review workflow “{workflow.name}” can never complete: " + " ".join(problems))
    if any(doc.brand_id != brand.pk for doc in sources):
        raise ValidationError({"sources": "Source documents must belong to the brief's brand."})
    # Triage (agents/triage.py) may raise the risk to its predicted category's, never lower it.
    triage, triaged_risk = brief_triage(title=title, goal=goal, audience=audience, risk=risk)
    brief = Brief.objects.create(
        brand=brand, title=title, goal=goal, audience=audience, channel=channel, tone=tone, risk=triaged_risk,
        template=template, requested_by=user, triage=triage,
    )
    brief.sources.set(sources)
    draft = Draft.objects.create(
        brief=brief,
        brand=brand,
        title=title,
        workflow=workflow,
        model_version=model_version_for_brief(brief.pk),
        prompt_version=template.active_version,
    )
    audit_log(action="editorial.brief.create", obj=brief, user=user, data={"draft": draft.pk, "risk": brief.risk})
    if brief.risk != risk:
        triage_risk_audit(brief=brief, requested=risk, triage=triage)
    pipeline_start(draft=draft)
    return draft


class EditConflict(Exception):
    def __init__(self, current: Revision, message: str = "Someone saved a newer revision while you were editing.") -> None:
        super().__init__(message)
        self.current = current


class EditAlreadySaved(EditConflict):
    """The same edit again (a double submit, a retried request): the current revision was made from
    the same base with the same text. Nothing more is saved; to an API client it is still a conflict."""

    def __init__(self, current: Revision) -> None:
        super().__init__(current, f"This text was already saved as revision {current.number}; nothing more was saved.")


# A published or retracted piece can be edited: the new revision goes through review, and publishing
# it again sends an "updated" (or, after a retraction, a new "published") event.
EDITABLE = {Draft.Status.IN_REVIEW, Draft.Status.CHANGES_REQUESTED, Draft.Status.APPROVED, Draft.Status.PUBLISHED,
            Draft.Status.RETRACTED}


def _check_editable(draft: Draft) -> None:
    if draft.status not in EDITABLE:
        raise ValidationError(f"A draft that is “{draft.get_status_display()}” cannot be edited.")


@transaction.atomic
def draft_edit(*, draft: Draft, user: Any, content: str, base_revision_id: int, note: str = "") -> Revision:
    """A person's edit: a new revision based on the one they opened, never over a newer one."""
    if not draft_policy.user_has_permission_for_instance(user, "edit", draft):
        raise PermissionDenied("You cannot edit this draft.")
    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    content = content.replace("\r\n", "\n").strip()
    if not content:
        raise ValidationError({"content": "The text is empty; nothing was saved."})
    if len(content) > MAX_CONTENT_CHARS:
        raise ValidationError({"content": f"The text is longer than {MAX_CONTENT_CHARS:,} characters."})
    _check_editable(draft)
    current = draft.current_revision
    if current is not None and current.pk != base_revision_id and current.parent_id == base_revision_id \
            and current.content == content:
        raise EditAlreadySaved(current)
    if current is None or current.pk != base_revision_id:
        raise EditConflict(current)
    if content == current.content:
        raise ValidationError({"content": "Nothing changed; no revision was saved."})
    revision = revision_create(draft=draft, content=content, author_user=user, parent=current, note=note)
    person_revision_followup(draft=draft, revision=revision, user=user)
    return revision


@transaction.atomic
def revision_restore(*, draft: Draft, user: Any, revision_id: int, note: str = "") -> Revision:
    """Bring back an earlier revision's text as a NEW revision on top of the current one; nothing
    is overwritten, and the restored text goes through the checks and gates like an edit."""
    if not draft_policy.user_has_permission_for_instance(user, "edit", draft):
        raise PermissionDenied("You cannot edit this draft.")
    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    source = Revision.objects.filter(pk=revision_id, draft=draft).first()
    if source is None:
        raise ValidationError("That revision does not belong to this draft; nothing was restored.")
    _check_editable(draft)
    current = draft.current_revision
    if current is None:
        raise ValidationError("This draft has no revision yet; nothing was restored.")
    if source.pk == current.pk:
        raise ValidationError(f"r{source.number} is already the current revision; nothing was restored.")
    if source.content == current.content:
        raise ValidationError(
            f"r{source.number} has the same text as the current revision r{current.number}; nothing was restored."
        )
    label = f"Restored from r{source.number}"
    revision = revision_create(
        draft=draft,
        content=source.content,
        author_user=user,
        parent=current,
        provenance={"restored_from": {"revision": source.pk, "number": source.number}},
        note=f"{label}: {note.strip()}"[:300] if note.strip() else label,
    )
    audit_log(
        action="editorial.revision.restore",
        obj=revision,
        user=user,
        data={"draft": draft.pk, "restored_from": source.number, "old": current.number, "new": revision.number},
    )
    person_revision_followup(draft=draft, revision=revision, user=user)
    return revision


# --- who is reviewing what (the desk queue) --------------------------------------------------------

class AlreadyClaimed(Exception):
    """Someone else is reviewing the item; claiming it anyway needs `force=True` (the person confirmed)."""

    def __init__(self, draft: Draft, assignee: Any) -> None:
        super().__init__(f"{_name(assignee)} is already reviewing “{draft.title}”.")
        self.draft = draft
        self.assignee = assignee


def _name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "nobody"


def may_review(user: Any, draft: Draft) -> bool:
    """Brand members who can edit the draft or sign one of its workflow's gates."""
    if not draft_policy.user_has_permission_for_instance(user, "view", draft):
        return False
    if draft_policy.user_has_permission_for_instance(user, "edit", draft):
        return True
    return draft.workflow_id is not None and Gate.objects.filter(
        stage__workflow_id=draft.workflow_id, group__in=user.groups.all()
    ).exists()


def _assignee_set(*, draft: Draft, actor: Any, assignee: Any, action: str) -> Draft:
    """Write the new assignee, audit it in the same transaction, and nudge the brand's queues on commit."""
    old = draft.assignee
    draft.assignee = assignee
    draft.save(update_fields=["assignee"])
    audit_log(
        action=action, obj=draft, user=actor,
        data={"assignee": [old.get_username() if old else None, assignee.get_username() if assignee else None]},
    )
    brand_id, pk = draft.brand_id, draft.pk
    event = {"kind": "assignee", "draft": pk, "assignee": assignee.get_username() if assignee else None}
    transaction.on_commit(lambda: push_queue_event(brand_id, event))
    return draft


def _lock(draft: Draft) -> Draft:
    return Draft.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=draft.pk)


@transaction.atomic
def draft_claim(*, draft: Draft, user: Any, force: bool = False) -> Draft:
    """Mark the item as being reviewed by `user`. Taking over someone else's claim needs `force`."""
    if not may_review(user, draft):
        raise PermissionDenied("Only members of this brand who edit or sign can claim it.")
    draft = _lock(draft)
    if draft.assignee_id == user.pk:
        return draft
    if draft.assignee_id is not None and not force:
        raise AlreadyClaimed(draft, draft.assignee)
    return _assignee_set(draft=draft, actor=user, assignee=user, action="editorial.draft.claim")


@transaction.atomic
def draft_assign(*, draft: Draft, user: Any, assignee: Any) -> Draft:
    """Hand the item to `assignee`, who must be a member of its brand."""
    if not may_review(user, draft):
        raise PermissionDenied("Only members of this brand who edit or sign can assign it.")
    if assignee is None:
        raise ValidationError({"assignee": "Choose who to assign it to."})
    if not assignee.is_active or not draft_policy.user_has_permission_for_instance(assignee, "view", draft):
        raise ValidationError({"assignee": f"{_name(assignee)} is not a member of {draft.brand}."})
    draft = _lock(draft)
    if draft.assignee_id == assignee.pk:
        return draft
    draft = _assignee_set(draft=draft, actor=user, assignee=assignee, action="editorial.draft.assign")
    from editorial.notifications import notify_assigned

    notify_assigned(draft=draft, actor=user, assignee=assignee)
    return draft


@transaction.atomic
def draft_unassign(*, draft: Draft, user: Any) -> Draft:
    """Nobody is reviewing the item any more."""
    if not may_review(user, draft):
        raise PermissionDenied("Only members of this brand who edit or sign can release it.")
    draft = _lock(draft)
    if draft.assignee_id is None:
        return draft
    return _assignee_set(draft=draft, actor=user, assignee=None, action="editorial.draft.unassign")
