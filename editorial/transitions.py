"""The only writer of `Draft.status`: every move is checked against one table and audited with the
old and new status, in the caller's transaction, and browsers watching the draft hear of it on commit.
A move to approved or published also records the released text's attribution (editorial/attribution.py)
and an approval clears the draft's "sources changed" flags (editorial/sourceflags.py)."""
from __future__ import annotations

from typing import Any, Callable

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from editorial.attribution import attribution_record
from editorial.models import Draft
from editorial.realtime import push_draft_event
from editorial.sourceflags import source_flags_clear
from governance.audit import audit_log

S = Draft.Status

# from → the statuses it may move to. Staying in the same status is always allowed (it still audits).
MOVES: dict[str, frozenset[str]] = {
    S.GENERATING: frozenset({S.OUTLINE_REVIEW, S.IN_REVIEW, S.FAILED, S.NEEDS_HUMAN}),
    S.OUTLINE_REVIEW: frozenset({S.GENERATING, S.FAILED, S.NEEDS_HUMAN}),
    S.FAILED: frozenset({S.GENERATING}),
    S.NEEDS_HUMAN: frozenset({S.GENERATING}),
    S.IN_REVIEW: frozenset({S.APPROVED, S.CHANGES_REQUESTED, S.REJECTED}),
    S.CHANGES_REQUESTED: frozenset({S.IN_REVIEW, S.APPROVED}),
    S.APPROVED: frozenset({S.IN_REVIEW, S.PUBLISHED}),
    S.PUBLISHED: frozenset({S.IN_REVIEW, S.APPROVED, S.RETRACTED}),
    S.RETRACTED: frozenset({S.IN_REVIEW, S.APPROVED}),
    S.REJECTED: frozenset(),
}


# Hooks (draft, old, new) -> None called in the caller's transaction after a status change; higher
# layers register them (a campaign starts its variants when its master is approved).
STATUS_HOOKS: list[Callable[[Draft, str, str], None]] = []


def status_hook_register(hook: Callable[[Draft, str, str], None]) -> None:
    if hook not in STATUS_HOOKS:
        STATUS_HOOKS.append(hook)


def transition_allowed(old: str, new: str) -> bool:
    return old == new or new in MOVES[old]


def draft_transition(
    *,
    draft: Draft,
    to: str,
    action: str,
    user: Any = None,
    run: Any = None,
    label: str = "",
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    audit_obj: models.Model | None = None,
    fields: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
) -> Draft:
    """Move `draft` (the row the caller locked with select_for_update) to `to`.

    `reason` replaces the status reason when given; `fields` are other columns saved with the move
    (the published revision, a cleared schedule); `audit_obj` is what the audit row is about when
    the move is a consequence (a sign-off). The audit row carries `"status": [old, new]`."""
    old = draft.status
    if not transition_allowed(old, to):
        raise ValidationError(
            f"A draft that is “{draft.get_status_display()}” cannot become “{S(to).label}”; nothing was changed."
        )
    for name, value in (fields or {}).items():
        setattr(draft, name, value)
    changed = list(fields or {})
    if reason is not None:
        draft.status_reason = reason
        changed.append("status_reason")
    if old != to:
        draft.status = to
        draft.status_changed_at = timezone.now()
        changed += ["status", "status_changed_at"]
    if changed:
        draft.save(update_fields=changed)
    audit_log(action=action, obj=audit_obj or draft, user=user, run=run, label=label,
              data={**(data or {}), "draft": draft.pk, "status": [old, to]})
    if old != to and to in (S.APPROVED, S.PUBLISHED):
        # What goes out is attributed (agent or person, word by word) as it is let out, and approval
        # is the re-review that clears a "sources changed" flag.
        released = draft.published_revision if to == S.PUBLISHED else draft.current_revision
        if released is not None:
            attribution_record(revision=released, user=user)
        if to == S.APPROVED:
            source_flags_clear(draft=draft, user=user, run=run)
    if old != to:
        message = {"kind": "status", "status": to, **({"reason": draft.status_reason} if reason else {}),
                   **(event or {})}
        draft_id = draft.pk
        transaction.on_commit(lambda: push_draft_event(draft_id, message))
        for hook in STATUS_HOOKS:
            hook(draft, old, to)
    return draft
