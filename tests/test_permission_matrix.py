"""Role × action × object on every route. Each allowed case must take effect and each refused
case must change nothing, so removing any permission check makes a case here fail."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from agents.models import AgentRun
from editorial.briefs import brief_create
from editorial.models import Draft
from editorial.revisions import revision_create
from governance.models import AuditEvent, Delivery, Finding, FindingOverride, ReviewLink, SignOff
from governance.signoffs import signoff_record
from tests.factories import PASSWORD, build_world

ROLES = ["requester", "editor", "brand_reviewer", "legal", "anonymous"]
OBJECTS = ["own", "other"]  # a draft of the roles' brand, or of a brand they are not in


def make_draft(world, obj: str, state: str) -> Draft:
    owner, brand = (world.requester, world.brand) if obj == "own" else (world.outsider, world.other_brand)
    draft = brief_create(user=owner, brand=brand, title=f"{obj} draft", goal="g", audience="a", channel="blog",
                         tone="warm", risk="low", template=world.template)
    run = AgentRun.objects.create(draft=draft, kind="write", status="succeeded", idempotency_key=f"m:{draft.pk}")
    content = "Results guaranteed." if state == "blocking" else "Hello."
    revision = revision_create(draft=draft, content=content, author_run=run)
    Draft.objects.filter(pk=draft.pk).update(status="in_review")
    draft.refresh_from_db()
    if state == "blocking":
        Finding.objects.create(revision=revision, category="banned_term", severity="blocking", start=8, end=18,
                               text="guaranteed", message="banned")
    if state == "approved":
        signer = world.editor if obj == "own" else world.outsider
        signoff_record(draft=draft, gate=world.gates["editorial"], user=signer, decision="approve",
                       revision_id=revision.pk)
    if state == "failed":
        AgentRun.objects.filter(draft=draft, kind="plan").update(status="failed", error="boom")
        Draft.objects.filter(pk=draft.pk).update(status="failed", status_reason="boom")
    draft.refresh_from_db()
    return draft


@dataclass
class Case:
    name: str
    state: str
    allowed: set[str]  # roles allowed on their own brand's draft; nobody is allowed on another brand's
    call: Callable[[Client, Draft, Any], Any]
    effect: Callable[[Draft], Any]  # what changes when the action is allowed
    other_status: int = 404  # what a brand member gets for another brand's draft


def get(route: str, **query):
    def call(client, draft, world):
        return client.get(reverse(route, args=[draft.pk]), query)
    return call


def post(route: str, data: Callable[[Draft, Any], dict], *extra_args: Callable[[Draft, Any], Any]):
    def call(client, draft, world):
        args = [draft.pk, *(f(draft, world) for f in extra_args)]
        return client.post(reverse(route, args=args), data(draft, world))
    return call


def page_ok(draft):
    return None  # reads change nothing; success is judged from the response


READERS = {"requester", "editor", "brand_reviewer", "legal"}
CASES = [
    Case("read the draft page", "review", READERS, get("editorial:draft"), page_ok),
    Case("read live progress", "review", READERS, get("editorial:draft-live"), page_ok),
    Case("read a diff", "review", READERS,
         lambda c, d, w: c.get(reverse("editorial:draft-diff", args=[d.pk]),
                               {"a": d.current_revision_id, "b": d.current_revision_id}), page_ok),
    Case("check a revision against policy", "review", READERS,
         lambda c, d, w: c.get(reverse("governance:policy-check"), {"revision": d.current_revision_id}), page_ok),
    Case("open the editor", "review", {"editor"}, get("editorial:draft-edit"), page_ok),
    Case("save an edit", "review", {"editor"},
         post("editorial:draft-edit", lambda d, w: {"content": "Edited.", "base_revision": d.current_revision_id}),
         lambda d: d.revisions.count()),
    Case("sign the editorial gate", "review", {"editor"},
         post("editorial:gate-action", lambda d, w: {"decision": "approve", "revision": d.current_revision_id},
              lambda d, w: w.gates["editorial"].pk),
         lambda d: SignOff.objects.filter(draft=d).count()),
    Case("publish", "approved", {"editor"}, post("editorial:publish", lambda d, w: {}),
         lambda d: Delivery.objects.filter(draft=d).count()),
    Case("retry generation", "failed", {"editor"}, post("editorial:retry", lambda d, w: {}),
         lambda d: AgentRun.objects.filter(draft=d).count()),
    Case("override a blocking finding", "blocking", {"legal"},
         post("governance:finding-override", lambda d, w: {"justification": "Cleared by counsel."},
              lambda d, w: d.current_revision.findings.get().pk),
         lambda d: FindingOverride.objects.filter(finding__revision__draft=d).count()),
    Case("send an external review link", "review", {"editor"},
         post("governance:review-link", lambda d, w: {"recipient": "Counsel", "hours": 24},
              lambda d, w: w.gates["editorial"].pk),
         lambda d: ReviewLink.objects.filter(draft=d).count()),
    Case("download the signed provenance manifest", "review", READERS, get("governance:manifest"), page_ok),
    Case("read the draft through the API", "review", READERS,
         lambda c, d, w: c.get(f"/api/v1/drafts/{d.pk}"), page_ok),
    Case("read a diff through the API", "review", READERS,
         lambda c, d, w: c.get(f"/api/v1/drafts/{d.pk}/diff",
                               {"a": d.current_revision_id, "b": d.current_revision_id}), page_ok),
]


# --- comments on drafts (editorial/views/comments.py) ----------------------------------------------
from editorial.comments import thread_create, thread_resolve  # noqa: E402
from editorial.models import Comment, CommentThread  # noqa: E402


def _thread(draft, world, *, resolved: bool = False) -> int:
    """A thread started by a member of the draft's own brand (created inside the call, so the effect
    below counts only what the role under test did)."""
    author = world.editor if draft.brand_id == world.brand.pk else world.outsider
    thread = thread_create(draft=draft, user=author, revision_id=draft.current_revision_id, body="Check this.")
    if resolved:
        thread_resolve(thread=thread, user=author)
    return thread.pk


CASES += [
    Case("read the comments panel", "review", READERS, get("editorial:comments"), page_ok),
    Case("start a comment thread", "review", READERS,
         post("editorial:comments", lambda d, w: {"revision": d.current_revision_id, "body": "A thought."}),
         lambda d: CommentThread.objects.filter(draft=d).count()),
    Case("reply to a comment thread", "review", READERS,
         post("editorial:thread-reply", lambda d, w: {"body": "Agreed."}, _thread),
         lambda d: Comment.objects.filter(thread__draft=d, body="Agreed.").count()),
    Case("resolve someone else's comment thread", "review", {"editor", "brand_reviewer", "legal"},
         post("editorial:thread-resolve", lambda d, w: {}, _thread),
         lambda d: CommentThread.objects.filter(draft=d, resolved_at__isnull=False).count()),
    Case("re-open someone else's comment thread", "review", {"editor", "brand_reviewer", "legal"},
         post("editorial:thread-reopen", lambda d, w: {}, lambda d, w: _thread(d, w, resolved=True)),
         lambda d: CommentThread.objects.filter(draft=d, resolved_at__isnull=True).count()),
]


# --- the desk: claim, assign, unassign, bulk, restore (and the diff above) ----------------------------
# Effects are audit events of the action, so an allowed case must have been recorded and a refused one
# leaves none. Claiming and assigning are for members who edit or sign one of the draft's gates.

def audited(action: str) -> Callable[[Draft], int]:
    def effect(draft):
        return AuditEvent.objects.filter(action=action, object_type="editorial.draft", object_id=str(draft.pk)).count()
    return effect


def claimed_then(route: str, data: Callable[[Draft, Any], dict]):
    def call(client, draft, world):
        Draft.objects.filter(pk=draft.pk).update(assignee=world.requester if draft.brand == world.brand else
                                                 world.outsider)
        return client.post(reverse(route, args=[draft.pk]), data(draft, world))
    return call


def restore_first(client, draft, world):
    first = draft.current_revision
    revision_create(draft=draft, content="A later text.", author_user=world.editor)
    return client.post(reverse("editorial:revision-restore", args=[draft.pk, first.pk]))


def bulk_approve(client, draft, world):
    return client.post(reverse("editorial:queue-bulk"), {
        "ids": [draft.pk], "action": "approve", "confirm": "yes", f"rev-{draft.pk}": draft.current_revision_id})


REVIEWERS = {"editor", "brand_reviewer", "legal"}
DESK_CASES = [
    Case("claim an item", "review", REVIEWERS, post("editorial:draft-claim", lambda d, w: {}),
         audited("editorial.draft.claim")),
    Case("assign an item", "review", REVIEWERS, post("editorial:draft-assign", lambda d, w: {"assignee": "eddie"}),
         audited("editorial.draft.assign")),
    Case("unassign an item", "review", REVIEWERS, claimed_then("editorial:draft-unassign", lambda d, w: {}),
         audited("editorial.draft.unassign")),
    # Another brand's row is reported "not found" among the others (nothing revealed), not a 404 page.
    Case("bulk-approve an item", "review", {"editor"}, bulk_approve,
         lambda d: SignOff.objects.filter(draft=d).count(), other_status=302),
    Case("restore an earlier revision", "review", {"editor"}, restore_first,
         lambda d: AuditEvent.objects.filter(action="editorial.revision.restore", data__draft=d.pk).count()),
]
CASES += DESK_CASES

DESK_ROUTES = [  # (route, needs a draft, wrong method)
    ("editorial:draft-claim", True, "get"), ("editorial:draft-assign", True, "get"),
    ("editorial:draft-unassign", True, "get"), ("editorial:queue-bulk", False, "get"),
    ("editorial:draft-diff", True, "post"), ("editorial:revision-restore", True, "get"),
]


@pytest.mark.parametrize(("route", "per_draft", "method"), DESK_ROUTES, ids=[r[0] for r in DESK_ROUTES])
def test_desk_routes_refuse_the_wrong_method(matrix_world, route, per_draft, method):
    draft = make_draft(matrix_world, "own", "review")
    args = [draft.pk] if per_draft else []
    if route == "editorial:revision-restore":
        args.append(draft.current_revision_id)
    before = (AuditEvent.objects.count(), Draft.objects.values_list("assignee_id", flat=True).get(pk=draft.pk))
    response = getattr(client_for("editor", matrix_world), method)(reverse(route, args=args))
    assert response.status_code == 405
    assert (AuditEvent.objects.count(), Draft.objects.values_list("assignee_id", flat=True).get(pk=draft.pk)) == before


@pytest.fixture
def matrix_world(db):
    world = build_world()
    legal = Group.objects.get(name="legal reviewers")
    legal.permissions.add(Permission.objects.get(codename="override_finding"))
    return world


def client_for(role: str, world) -> Client:
    client = Client()
    if role != "anonymous":
        assert client.login(username=getattr(world, role).username, password=PASSWORD)
    return client


@pytest.mark.parametrize("obj", OBJECTS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_permission_matrix(matrix_world, case: Case, role: str, obj: str):
    world = matrix_world
    draft = make_draft(world, obj, case.state)
    before = case.effect(draft)
    response = case.call(client_for(role, world), draft, world)
    allowed = obj == "own" and role in case.allowed
    body = response.content.decode()
    if allowed:
        assert response.status_code in (200, 302), (response.status_code, body[:300])
        if before is not None:
            assert case.effect(draft) != before, "the allowed action had no effect"
        if response.status_code == 302:
            assert "login" not in response.url
    else:
        if before is not None:
            assert case.effect(draft) == before, "a refused action changed something"
        if role == "anonymous":
            assert response.status_code in (302, 401) and ("login" in response.get("Location", "") or
                                                           response.status_code == 401)
        elif obj == "other":
            assert response.status_code == case.other_status, "another brand's draft must not even be revealed"
        else:
            # a brand member without the right: 403, or the page again with the refusal explained
            assert response.status_code in (403, 302), (response.status_code, body[:300])


def test_api_briefs_only_for_requesters_of_their_own_brand(matrix_world, client):
    world = matrix_world

    def create(role: str, brand) -> int:
        c = client_for(role, world)
        body = {"brand": brand.slug, "title": "t", "goal": "g", "audience": "a", "channel": "blog",
                "template": world.template.slug}
        return c.post("/api/v1/briefs", json.dumps(body), content_type="application/json").status_code

    assert create("requester", world.brand) == 201
    assert create("editor", world.brand) == 201
    assert create("brand_reviewer", world.brand) == 403
    assert create("requester", world.other_brand) == 422
    assert create("anonymous", world.brand) == 401
    assert Draft.objects.filter(brand=world.brand).count() == 2


@pytest.mark.parametrize(("role", "obj", "accepted"), [
    ("requester", "own", True), ("legal", "own", True), ("editor", "other", False), ("anonymous", "own", False),
])
def test_websocket_subscriptions_follow_the_same_policy(transactional_db, role, obj, accepted):
    world = build_world()
    draft = make_draft(world, obj, "review")
    client = client_for(role, world)
    headers = [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1")]
    cookie = client.cookies.get("sessionid")
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie.value}".encode()))

    async def connect() -> bool:
        from aios.asgi import application

        communicator = WebsocketCommunicator(application, f"/ws/drafts/{draft.pk}/", headers=headers)
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(connect)() is accepted
