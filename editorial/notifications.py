"""Notifications: one entry point, `notify`, plus the inbox reads and writes.

`notify` respects each person's NotificationSetting for the kind (no row = in-app and e-mail both
on), never tells the actor about their own action, and only tells people who can still see the
draft. In-app notifications are rows (written in the caller's transaction, so they vanish with a
rolled-back action); the live badge update and the e-mail go out on commit, and neither can fail
the action that caused them.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from editorial.models import Draft, Notification, NotificationKind, NotificationSetting
from editorial.realtime import push_group, user_group
from governance.audit import audit_log
from governance.models import SignOff
from governance.permissions import draft_policy

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 500


def _name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "AIOS"


# --- the entry point -------------------------------------------------------------------------------

def notify(
    *,
    users: Iterable[Any],
    kind: str,
    draft: Draft | None,
    actor: Any,
    message: str,
    url: str = "",
) -> list[Notification]:
    """Tell `users` about something `actor` did (or the system, with actor=None) on `draft`."""
    if kind not in NotificationKind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    actor_id = getattr(actor, "pk", None)
    recipients: dict[int, Any] = {}
    for user in users:
        if user is None or user.pk == actor_id or user.pk in recipients or not user.is_active:
            continue
        if draft is not None and not draft_policy.user_has_permission_for_instance(user, "view", draft):
            continue  # someone who left the brand no longer hears about its drafts
        recipients[user.pk] = user
    if not recipients:
        return []
    switches = {
        s.user_id: s for s in NotificationSetting.objects.filter(user_id__in=list(recipients), kind=kind)
    }
    message = " ".join(message.split())[:MAX_MESSAGE_CHARS]
    if not url and draft is not None:
        url = reverse("editorial:draft", args=[draft.pk])
    in_app = [u for pk, u in recipients.items() if pk not in switches or switches[pk].in_app]
    by_email = [u for pk, u in recipients.items() if (pk not in switches or switches[pk].email) and u.email]
    rows = Notification.objects.bulk_create([
        Notification(user=u, kind=kind, draft=draft, actor=actor if actor_id else None, message=message, url=url)
        for u in in_app
    ])
    row_ids = {row.user_id: row.pk for row in rows}
    live = [(row.user_id, {"id": row.pk, "kind": kind, "message": message, "url": url}) for row in rows]
    mails = [(u.email, row_ids.get(u.pk)) for u in by_email]
    subject = f"[AIOS] {NotificationKind(kind).label}: {draft.title if draft else ''}".strip(": ")[:200]
    transaction.on_commit(lambda: _deliver(live=live, mails=mails, subject=subject, message=message, url=url),
                          robust=True)
    return rows


def _deliver(*, live: list[tuple[int, dict]], mails: list[tuple[str, int | None]], subject: str, message: str,
             url: str) -> None:
    for user_id, data in live:
        push_unread(user_id, notification=data)
    if mails:
        _send_mail(mails=mails, subject=subject, message=message, url=url)


def _send_mail(*, mails: list[tuple[str, int | None]], subject: str, message: str, url: str) -> None:
    """One message per person (nobody sees the others' addresses). A failure is logged, never raised."""
    link = settings.PUBLIC_URL.rstrip("/") + url if url.startswith("/") else url
    body = f"{message}\n\n{link}\n\n— AIOS Editorial. Choose what reaches you by e-mail: " \
           f"{settings.PUBLIC_URL.rstrip('/')}{reverse('editorial:notification-settings')}\n"
    try:
        connection = get_connection(fail_silently=False)
        sent = connection.send_messages([EmailMessage(subject=subject, body=body, to=[to]) for to, _ in mails])
    except Exception:
        log.warning("could not send %d notification e-mail(s)", len(mails), exc_info=True)
        return
    ids = [pk for _, pk in mails if pk is not None]
    if sent and ids:
        Notification.objects.filter(pk__in=ids).update(emailed_at=timezone.now())


def push_unread(user_id: int, *, notification: dict | None = None) -> None:
    """Send the person's unread count (and what is new) to every page they have open. Best effort."""
    data = {"kind": "notifications", "unread": unread_count(user_id)}
    if notification:
        data["notification"] = notification
    push_group(user_group(user_id), "notification.event", data)


# --- who hears about what --------------------------------------------------------------------------

def people_who_acted(draft: Draft) -> list[Any]:
    """Everyone who acted earlier on the item: who asked for it, who wrote revisions of it by hand,
    who decided at its gates, and who is reviewing it."""
    ids = {draft.brief.requested_by_id, draft.assignee_id}
    ids |= set(draft.revisions.filter(author_user__isnull=False).values_list("author_user_id", flat=True))
    ids |= set(SignOff.objects.filter(draft=draft, user__isnull=False).values_list("user_id", flat=True))
    ids.discard(None)
    return list(get_user_model().objects.filter(pk__in=ids))


def notify_sent_back(*, draft: Draft, actor: Any, reason: str) -> None:
    notify(users=people_who_acted(draft), kind=NotificationKind.SENT_BACK, draft=draft, actor=actor,
           message=f"{_name(actor)} sent “{draft.title}” back for changes: {reason}")


def notify_approved(*, draft: Draft, actor: Any, by: str = "") -> None:
    """`by`: who signed when no user did ("policy <name>", or an outside reviewer's name)."""
    if actor is None and by.startswith("policy "):
        message = f"“{draft.title}” is approved by {by}, without a person."
    else:
        message = f"“{draft.title}” is approved (last sign-off by {_name(actor) if actor else 'an outside reviewer'})."
    notify(users=people_who_acted(draft), kind=NotificationKind.APPROVAL, draft=draft, actor=actor, message=message)


def notify_publish_failed(*, draft: Draft, reason: str, policy: str = "") -> None:
    """A publish that did not happen (by policy, or at its scheduled time): it stays approved."""
    after = " It stays approved: publish or schedule it." if draft.status == Draft.Status.APPROVED else ""
    notify(users=people_who_acted(draft), kind=NotificationKind.PUBLISH_FAILED, draft=draft, actor=None,
           message=f"“{draft.title}” was {'approved by policy ' + policy + ' but ' if policy else ''}not published: "
                   f"{reason.rstrip('.')}.{after}")


def notify_assigned(*, draft: Draft, actor: Any, assignee: Any) -> None:
    notify(users=[assignee], kind=NotificationKind.ASSIGNMENT, draft=draft, actor=actor,
           message=f"{_name(actor)} assigned “{draft.title}” to you.")


def notify_generation_failed(*, draft_id: int) -> None:
    """Called on commit of a failed run, in its own transaction; never raises into the worker."""
    try:
        draft = Draft.objects.select_related("brief__requested_by").get(pk=draft_id)
        if draft.status != Draft.Status.FAILED:
            return
        with transaction.atomic():
            notify(users=[draft.brief.requested_by], kind=NotificationKind.GENERATION_FAILED, draft=draft,
                   actor=None, message=f"Generation of “{draft.title}” failed. {draft.status_reason}")
    except Exception:
        log.warning("could not notify about failed draft %s", draft_id, exc_info=True)


# --- the inbox -------------------------------------------------------------------------------------

def unread_count(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def notifications_for_user(*, user: Any, limit: int = 100) -> list[Notification]:
    return list(
        Notification.objects.filter(user=user).select_related("actor", "draft")[:limit]
    )


def notification_mark_read(*, user: Any, pk: int) -> Notification:
    """Mark one of the user's own notifications read (someone else's is a 404)."""
    notification = Notification.objects.filter(pk=pk, user=user).first()
    if notification is None:
        raise Http404("No such notification.")
    if notification.read_at is None:
        Notification.objects.filter(pk=pk, read_at__isnull=True).update(read_at=timezone.now())
        notification.refresh_from_db(fields=["read_at"])
        transaction.on_commit(lambda: push_unread(user.pk), robust=True)
    return notification


def notification_mark_all_read(*, user: Any) -> int:
    count = Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
    if count:
        transaction.on_commit(lambda: push_unread(user.pk), robust=True)
    return count


@dataclass
class Switch:
    kind: str
    label: str
    in_app: bool
    email: bool


def settings_for_user(user: Any) -> list[Switch]:
    rows = {s.kind: s for s in NotificationSetting.objects.filter(user=user)}
    return [
        Switch(kind=k, label=label, in_app=rows[k].in_app if k in rows else True,
               email=rows[k].email if k in rows else True)
        for k, label in NotificationKind.choices
    ]


@transaction.atomic
def settings_update(*, user: Any, switches: dict[str, dict[str, bool]]) -> list[Switch]:
    """Save the person's switches: {kind: {"in_app": bool, "email": bool}} for every kind."""
    unknown = set(switches) - set(NotificationKind.values)
    if unknown:
        raise ValidationError(f"Unknown kind of notification: {', '.join(sorted(unknown))}.")
    old = {s.kind: (s.in_app, s.email) for s in settings_for_user(user)}
    changed = {}
    for kind, values in switches.items():
        new = (bool(values.get("in_app")), bool(values.get("email")))
        if new != old[kind]:
            NotificationSetting.objects.update_or_create(
                user=user, kind=kind, defaults={"in_app": new[0], "email": new[1]}
            )
            changed[kind] = {"in_app": [old[kind][0], new[0]], "email": [old[kind][1], new[1]]}
    if changed:
        audit_log(action="editorial.notification_settings.update", obj=user, user=user, data=changed)
    return settings_for_user(user)
