"""Notifications: who hears about what (never the actor), each person's switches, e-mail on commit that
cannot break the action, the inbox and settings pages, and the WebSocket that carries only the
signed-in person's own notifications."""
from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse

from agents.models import AgentRun
from agents.pipeline.kinds import run_fail
from editorial.assignments import draft_assign
from editorial.comments import thread_create
from editorial.editing import draft_edit
from editorial.models import Draft, Notification, NotificationKind, NotificationSetting
from editorial.notifications import notify
from governance.models import AuditEvent
from governance.permissions import brand_member_remove
from governance.signoffs import signoff_record
from tests.factories import PASSWORD, build_world
from tests.helpers import draft_in_review, file_brief


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


def who(kind: str) -> set[str]:
    return set(Notification.objects.filter(kind=kind).values_list("user__username", flat=True))


def sign(draft: Draft, gate, user, decision: str, comment: str = "") -> None:
    draft.refresh_from_db()
    signoff_record(draft=draft, gate=gate, user=user, decision=decision, revision_id=draft.current_revision_id,
                   comment=comment)


# --- each kind reaches the right people, never the actor -------------------------------------------

def test_an_assignment_tells_the_assignee_and_not_who_assigned_it(world, django_capture_on_commit_callbacks):
    draft = draft_in_review(world)
    with django_capture_on_commit_callbacks(execute=True):
        draft_assign(draft=draft, user=world.editor, assignee=world.legal)
    n = Notification.objects.get()
    assert (n.user, n.kind, n.actor, n.draft) == (world.legal, "assignment", world.editor, draft)
    assert n.message == "Eddie assigned “Autumn roast” to you." and n.url == f"/drafts/{draft.pk}/"
    draft_assign(draft=draft, user=world.editor, assignee=world.editor)  # assigning oneself tells nobody
    assert Notification.objects.count() == 1
    assert [m.to for m in mail.outbox] == [["lena@example.com"]]


def test_sending_back_tells_everyone_who_acted_earlier_with_the_reason(world, django_capture_on_commit_callbacks):
    draft = draft_in_review(world, risk="medium")
    draft_edit(draft=draft, user=world.editor, content="## Part 1\n\nHello, coffee lovers.",
               base_revision_id=draft.current_revision_id)  # a human revision author
    sign(draft, world.gates["editorial"], world.editor, "approve")  # an earlier decider
    draft_assign(draft=draft, user=world.editor, assignee=world.legal)  # the assignee
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        sign(draft, world.gates["brand"], world.brand_reviewer, "request_changes", "Too casual for us.")
    assert who("sent_back") == {"rita", "eddie", "lena"}  # not bree, who sent it back
    assert all("Too casual for us." in n.message for n in Notification.objects.all())
    assert sorted(m.to[0] for m in mail.outbox) == ["eddie@example.com", "lena@example.com", "rita@example.com"]


def test_approval_tells_the_requester_and_those_who_acted(world):
    draft = draft_in_review(world)  # low risk: the editorial gate alone
    sign(draft, world.gates["editorial"], world.editor, "approve")
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    assert who("approval") == {"rita"}


def test_an_approval_that_leaves_gates_open_tells_nobody(world):
    draft = draft_in_review(world, risk="medium")
    sign(draft, world.gates["editorial"], world.editor, "approve")
    assert not Notification.objects.filter(kind="approval").exists()


def test_a_mention_tells_the_mentioned_person_but_not_the_author_mentioning_themselves(world):
    draft = draft_in_review(world)
    thread = thread_create(draft=draft, user=world.editor, revision_id=draft.current_revision_id,
                           body="@bree can you check? (@eddie note to self)", quote="coffee lovers",
                           quote_start=draft.current_revision.content.index("coffee lovers"))
    n = Notification.objects.get()
    assert (n.user, n.kind) == (world.brand_reviewer, "mention")
    assert n.url == f"/drafts/{draft.pk}/#thread-{thread.pk}" and "“coffee lovers”" in n.message


def test_a_failed_generation_tells_the_requester_after_commit(world, django_capture_on_commit_callbacks):
    draft = file_brief(world)
    run = AgentRun.objects.create(draft=draft, kind="plan", status="running", idempotency_key=f"t:{draft.pk}")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_fail(run=run, reason="model server unreachable")
    assert not Notification.objects.exists()  # nothing before the commit
    for callback in callbacks:
        callback()
    n = Notification.objects.get()
    assert (n.user, n.kind, n.actor) == (world.requester, "generation_failed", None)
    assert "model server unreachable" in n.message


def test_people_who_left_the_brand_are_not_told(world):
    draft = draft_in_review(world)
    brand_member_remove(brand=world.brand, user=world.requester)
    sign(draft, world.gates["editorial"], world.editor, "approve")
    assert not Notification.objects.exists()


# --- switches and e-mail ---------------------------------------------------------------------------

def test_switches_turn_one_kind_off_in_the_app_or_by_email(world, django_capture_on_commit_callbacks):
    draft = draft_in_review(world)
    NotificationSetting.objects.create(user=world.legal, kind="assignment", in_app=False, email=True)
    NotificationSetting.objects.create(user=world.brand_reviewer, kind="assignment", in_app=True, email=False)
    NotificationSetting.objects.create(user=world.requester, kind="mention", in_app=False, email=False)
    with django_capture_on_commit_callbacks(execute=True):
        notify(users=[world.legal, world.brand_reviewer], kind="assignment", draft=draft, actor=world.editor,
               message="assigned")
        notify(users=[world.requester], kind="mention", draft=draft, actor=world.editor, message="mentioned")
        notify(users=[world.requester], kind="approval", draft=draft, actor=world.editor, message="approved")
    assert set(Notification.objects.values_list("user__username", "kind")) == {("bree", "assignment"),
                                                                               ("rita", "approval")}
    assert sorted((m.to[0], m.body.split("\n")[0]) for m in mail.outbox) == [
        ("lena@example.com", "assigned"), ("rita@example.com", "approved")]


def test_the_email_names_the_kind_links_to_the_draft_and_is_recorded(world, django_capture_on_commit_callbacks,
                                                                     settings):
    settings.PUBLIC_URL = "https://aios.example"
    draft = draft_in_review(world)
    with django_capture_on_commit_callbacks(execute=True):
        draft_assign(draft=draft, user=world.editor, assignee=world.legal)
    message = mail.outbox[0]
    assert message.subject == "[AIOS] Assigned to me: Autumn roast"
    assert f"https://aios.example/drafts/{draft.pk}/" in message.body
    assert "https://aios.example/notifications/settings/" in message.body
    assert Notification.objects.get().emailed_at is not None


def test_an_email_failure_does_not_break_the_action(world, django_capture_on_commit_callbacks, settings):
    settings.EMAIL_BACKEND = "tests.test_notifications.BrokenBackend"
    draft = draft_in_review(world)
    with django_capture_on_commit_callbacks(execute=True):
        draft_assign(draft=draft, user=world.editor, assignee=world.legal)
    draft.refresh_from_db()
    assert draft.assignee == world.legal
    n = Notification.objects.get()
    assert n.user == world.legal and n.emailed_at is None


def test_no_email_without_an_address(world, django_capture_on_commit_callbacks):
    world.legal.email = ""
    world.legal.save()
    draft = draft_in_review(world)
    with django_capture_on_commit_callbacks(execute=True):
        draft_assign(draft=draft, user=world.editor, assignee=world.legal)
    assert Notification.objects.count() == 1 and mail.outbox == []


def test_a_rolled_back_action_leaves_no_notification_and_sends_nothing(world):
    draft = draft_in_review(world)
    with pytest.raises(ValueError), __import__("django.db").db.transaction.atomic():
        draft_assign(draft=draft, user=world.editor, assignee=world.legal)
        raise ValueError("something later failed")
    assert not Notification.objects.exists() and mail.outbox == []


# --- the inbox and settings pages ------------------------------------------------------------------


def some_notifications(world) -> tuple[Draft, list[Notification]]:
    draft = draft_in_review(world)
    rows = []
    for user in (world.legal, world.legal, world.brand_reviewer):
        rows += notify(users=[user], kind="assignment", draft=draft, actor=world.editor, message=f"for {user}")
    return draft, rows


def test_the_inbox_lists_only_my_notifications_with_links_and_the_badge_counts_them(world, as_user):
    _, rows = some_notifications(world)
    body = as_user("legal").get(reverse("editorial:notifications")).content.decode()
    assert body.count('class="notif kind-assignment unread"') == 2 and "for bree" not in body
    assert f'action="/notifications/{rows[0].pk}/read/"' in body and f"/notifications/{rows[2].pk}/" not in body
    assert 'aria-label="Notifications: 2 unread"' in body and ">2</span>" in body
    badge = body[body.index('id="notif-badge"'):body.index("</a>", body.index('id="notif-badge"'))]
    assert 'aria-current="page"' in badge
    assert "2 unread" in body


def test_marking_one_read_and_all_read(world, as_user):
    draft, rows = some_notifications(world)
    client = as_user("legal")
    response = client.post(reverse("editorial:notification-read", args=[rows[0].pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "unread" not in response.content.decode().split(">")[0]
    opened = client.post(reverse("editorial:notification-read", args=[rows[1].pk]), {"open": "1"})
    assert opened.status_code == 302 and opened.url == f"/drafts/{draft.pk}/"
    assert not Notification.objects.filter(user=world.legal, read_at__isnull=True).exists()
    assert client.post(reverse("editorial:notifications-read-all")).status_code == 302
    assert Notification.objects.filter(user=world.brand_reviewer, read_at__isnull=True).count() == 1


def test_someone_elses_notification_cannot_be_marked_read(world, as_user):
    _, rows = some_notifications(world)
    response = as_user("legal").post(reverse("editorial:notification-read", args=[rows[2].pk]))
    assert response.status_code == 404
    assert Notification.objects.get(pk=rows[2].pk).read_at is None
    as_user("legal").post(reverse("editorial:notifications-read-all"))
    assert Notification.objects.get(pk=rows[2].pk).read_at is None


def test_the_settings_page_saves_switches_and_audits_the_change(world, as_user):
    client = as_user("legal")
    page = client.get(reverse("editorial:notification-settings")).content.decode()
    assert page.count("checked") == 2 * len(NotificationKind.values)  # no row: both on
    data = {f"{k}-in_app": "on" for k in NotificationKind.values}
    data.update({f"{k}-email": "on" for k in NotificationKind.values if k != "mention"})
    del data["approval-in_app"]
    assert client.post(reverse("editorial:notification-settings"), data).status_code == 302
    rows = {(s.kind, s.in_app, s.email) for s in NotificationSetting.objects.filter(user=world.legal)}
    assert rows == {("mention", True, False), ("approval", False, True)}
    assert AuditEvent.objects.filter(action="editorial.notification_settings.update", actor_user=world.legal).exists()
    page = client.get(reverse("editorial:notification-settings")).content.decode()
    assert page.count("checked") == 2 * len(NotificationKind.values) - 2


def test_notification_pages_need_a_sign_in_and_the_right_method(world, as_user, client):
    for name in ("notifications", "notification-settings"):
        response = client.get(reverse(f"editorial:{name}"))
        assert response.status_code == 302 and "/login/" in response.url
    me = as_user("legal")
    assert me.get(reverse("editorial:notifications-read-all")).status_code == 405
    assert me.post(reverse("editorial:notifications")).status_code == 405
    assert me.delete(reverse("editorial:notification-settings")).status_code == 405


# --- the WebSocket ---------------------------------------------------------------------------------

HEADERS = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1")]


def session_headers(username: str | None) -> list[tuple[bytes, bytes]]:
    if username is None:
        return HEADERS
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return [*HEADERS, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


def test_the_socket_refuses_anonymous_visitors(transactional_db, services):
    build_world()

    async def scenario() -> bool:
        from aios.asgi import application

        communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=session_headers(None))
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def test_the_socket_delivers_my_notifications_and_never_someone_elses(transactional_db, services):
    world = build_world()
    draft = draft_in_review(world)

    def tell(user, message: str) -> None:
        notify(users=[user], kind="mention", draft=draft, actor=world.editor, message=message)

    headers = session_headers("lena")

    async def scenario() -> list[dict]:
        from aios.asgi import application

        communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        received = [await communicator.receive_json_from(timeout=5)]  # the count as of now
        await database_sync_to_async(tell)(world.brand_reviewer, "for bree")
        await database_sync_to_async(tell)(world.legal, "for lena")
        received.append(await communicator.receive_json_from(timeout=5))
        assert await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return received

    first, second = async_to_sync(scenario)()
    assert first == {"kind": "notifications", "unread": 0}
    assert second["unread"] == 1 and second["notification"]["message"] == "for lena"
