"""Every write to briefs, drafts and revisions."""
from __future__ import annotations

import hashlib
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from agents.models import KnowledgeDocument, PromptTemplate
from agents.services import model_version_for_brief, pipeline_start
from editorial.models import Brief, Draft, Revision
from editorial.realtime import push_draft_event
from governance.audit import audit_log
from governance.gates import all_hard_gates_approved, gate_states, workflow_for
from governance.models import Brand
from governance.permissions import brands_for_user, draft_policy
from governance.workflows import workflow_problems
from governance.policies import evaluate, findings_record, rule_set_version_for

MAX_CONTENT_CHARS = 200_000


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


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
    brief = Brief.objects.create(
        brand=brand, title=title, goal=goal, audience=audience, channel=channel, tone=tone, risk=risk,
        template=template, requested_by=user,
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
    audit_log(action="editorial.brief.create", obj=brief, user=user, data={"draft": draft.pk, "risk": risk})
    pipeline_start(draft=draft)
    return draft


@transaction.atomic
def revision_create(
    *,
    draft: Draft,
    content: str,
    author_user: Any = None,
    author_run: Any = None,
    parent: Revision | None = None,
    provenance: dict[str, Any] | None = None,
    note: str = "",
) -> Revision:
    """Append an immutable revision and make it the draft's current one."""
    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    last = draft.revisions.order_by("-number").first()
    revision = Revision.objects.create(
        draft=draft,
        number=(last.number + 1) if last else 1,
        parent=parent if parent is not None else last,
        content=content,
        content_hash=content_hash(content),
        author_user=author_user,
        author_run=author_run,
        provenance=provenance or {},
        note=note,
    )
    draft.current_revision = revision
    draft.save(update_fields=["current_revision"])
    audit_log(
        action="editorial.revision.create",
        obj=revision,
        user=author_user,
        run=author_run,
        data={"draft": draft.pk, "number": revision.number, "hash": revision.content_hash},
    )
    return revision


class EditConflict(Exception):
    def __init__(self, current: Revision) -> None:
        super().__init__("Someone saved a newer revision while you were editing.")
        self.current = current


# A published or retracted piece can be edited: the new revision goes through review, and publishing
# it again sends an "updated" (or, after a retraction, a new "published") event.
EDITABLE = {Draft.Status.IN_REVIEW, Draft.Status.CHANGES_REQUESTED, Draft.Status.APPROVED, Draft.Status.PUBLISHED,
            Draft.Status.RETRACTED}


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
    if draft.status not in EDITABLE:
        raise ValidationError(f"A draft that is “{draft.get_status_display()}” cannot be edited.")
    current = draft.current_revision
    if current is None or current.pk != base_revision_id:
        raise EditConflict(current)
    if content == current.content:
        raise ValidationError({"content": "Nothing changed; no revision was saved."})
    revision = revision_create(draft=draft, content=content, author_user=user, parent=current, note=note)
    draft.current_revision = revision
    # A person's text is held to the same rules as the model's.
    version = rule_set_version_for(draft.brand)
    findings_record(revision=revision, run=None, version=version,
                    findings=evaluate(content, channel=draft.brief.channel, version=version))
    # An edit re-opens the gates marked "re-approve on change"; if none re-opened, it stays approved.
    status = Draft.Status.APPROVED if all_hard_gates_approved(gate_states(draft)) else Draft.Status.IN_REVIEW
    if draft.status != status:
        draft.status = status
        draft.status_changed_at = timezone.now()
        draft.save(update_fields=["status", "status_changed_at"])
    transaction.on_commit(
        lambda: push_draft_event(draft.pk, {"kind": "revision", "revision": revision.pk, "number": revision.number})
    )
    return revision
