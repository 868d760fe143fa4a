"""The one way to create a revision, and what follows a revision a person made."""
from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction

from editorial.models import Draft, Revision
from editorial.realtime import push_draft_event
from editorial.transitions import draft_transition
from governance.audit import audit_log
from governance.gates import all_hard_gates_approved, gate_states
from governance.policies import evaluate, findings_record, rule_set_version_for


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


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
    make_current: bool = True,
    acting_user: Any = None,
    audit_data: dict[str, Any] | None = None,
) -> Revision:
    """Append an immutable revision (numbered after the last one) and, unless `make_current` is off
    (a proposed rewrite), make it the draft's current one. Audited in the same transaction.
    `acting_user` is who made it happen when the author is a run (accepting a proposal)."""
    # Lock order: the draft row first, then the audit chain's advisory lock (audit_log).
    draft_row = Draft.objects.select_for_update(of=("self",)).get(pk=draft.pk)
    last = draft_row.revisions.order_by("-number").first()
    revision = Revision.objects.create(
        draft=draft_row,
        number=(last.number + 1) if last else 1,
        parent=parent if parent is not None else last,
        content=content,
        content_hash=content_hash(content),
        author_user=author_user,
        author_run=author_run,
        provenance=provenance or {},
        note=note,
    )
    if make_current:
        draft_row.current_revision = revision
        draft_row.save(update_fields=["current_revision"])
        draft.current_revision = revision
    audit_log(
        action="editorial.revision.create",
        obj=revision,
        user=author_user or acting_user,
        run=author_run if acting_user is None else None,
        data={"draft": draft.pk, "number": revision.number, "hash": revision.content_hash,
              **({} if make_current else {"current": False}), **(audit_data or {})},
    )
    return revision


def person_revision_followup(*, draft: Draft, revision: Revision, user: Any = None) -> None:
    """What follows a revision a person made current (an edit, a restore, an accepted rewrite): the
    policy check, the status (gates marked "re-approve on change" re-open), and the live notice.
    `draft` is the row the caller locked."""
    draft.current_revision = revision
    # A person's text is held to the same rules as the model's.
    version = rule_set_version_for(draft.brand)
    findings_record(revision=revision, run=None, version=version,
                    findings=evaluate(revision.content, channel=draft.brief.channel, version=version, brand=draft.brand))
    status = Draft.Status.APPROVED if all_hard_gates_approved(gate_states(draft)) else Draft.Status.IN_REVIEW
    if draft.status != status:
        draft_transition(draft=draft, to=status, action="editorial.draft.revised", user=user,
                         data={"revision": revision.number})
    transaction.on_commit(
        lambda: push_draft_event(draft.pk, {"kind": "revision", "revision": revision.pk, "number": revision.number})
    )


REVIEW_RESET_STATUSES = (Draft.Status.IN_REVIEW, Draft.Status.APPROVED, Draft.Status.PUBLISHED)


def revision_review_reset(*, draft: Draft, user: Any, why: str, action: str, reset: dict[str, Any] | None = None,
                          data: dict[str, Any] | None = None) -> Revision:
    """Send a draft (the row the caller locked, in review, approved or published) back to review.

    Sign-offs bind to revisions (governance/gates.py), so the draft gets a new revision with the same
    text, marked `review_reset` in its provenance: sign-offs on revisions before it never count again.
    Published pieces stay at the CMS until they are approved and published again."""
    current = draft.current_revision
    revision = revision_create(
        draft=draft, content=current.content, author_user=user, parent=current,
        provenance={"review_reset": {"reason": why, **(reset or {}),
                                     "copied_from": {"revision": current.pk, "number": current.number}}},
        note=why[:300],
    )
    version = rule_set_version_for(draft.brand)
    findings_record(revision=revision, run=None, version=version,
                    findings=evaluate(revision.content, channel=draft.brief.channel, version=version, brand=draft.brand))
    unscheduled = draft.publish_at
    draft_transition(draft=draft, to=Draft.Status.IN_REVIEW, reason=why, action=action, user=user,
                     fields={"publish_at": None},
                     data={"reason": why, "revision": [current.number, revision.number],
                           "still_published": draft.published_revision_id is not None,
                           "unscheduled": unscheduled.isoformat() if unscheduled else None, **(data or {})})
    return revision
