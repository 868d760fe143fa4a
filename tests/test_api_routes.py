from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import AgentRun
from editorial.models import Draft, Revision
from editorial.queue.selection import QueueFilters, queue_drafts_for_user
from governance.models import Delivery, DeliveryAttempt, Finding, SignOff
from governance.signoffs import signoff_record
from governance.tokens import token_create
from tests.factories import PASSWORD, UserFactory
from tests.helpers import draft_in_review, file_brief

V1 = "/api/v1"


@pytest.fixture
def api(client, world):
    def as_user(name: str | None):
        client.logout()
        if name:
            assert client.login(username=world.user(name).username, password=PASSWORD)
        return client
    return as_user


def send(client, method: str, path: str, body: dict | None = None, **headers):
    kwargs = {"content_type": "application/json", **headers}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method.lower())(V1 + path, **kwargs)


def approve(world, draft: Draft) -> Draft:
    """A low-risk draft needs only the editorial gate."""
    draft.refresh_from_db()
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    return draft


def fields_named(response) -> str:
    return json.dumps(response.json())


def later() -> str:
    return (timezone.now() + timedelta(days=2)).isoformat()


def every_route(draft: Draft) -> list[tuple[str, str, dict | None, str]]:
    """(method, path, a valid body, the token scope it needs) for each route about one draft or brief."""
    d, rev = draft.pk, draft.current_revision_id
    return [
        ("GET", f"/briefs/{draft.brief_id}", None, "read"),
        ("GET", f"/drafts/{d}", None, "read"),
        ("GET", f"/drafts/{d}/diff?a={rev}&b={rev}", None, "read"),
        ("POST", f"/drafts/{d}/revisions", {"content": "New text.", "base_revision": rev}, "write"),
        ("POST", f"/drafts/{d}/evaluate", {"text": "Guaranteed results."}, "write"),
        ("GET", f"/drafts/{d}/actions", None, "read"),
        ("POST", f"/drafts/{d}/gates/editorial/approve", {"revision": rev}, "sign-off"),
        ("POST", f"/drafts/{d}/gates/editorial/request-changes", {"revision": rev, "comment": "Shorter."}, "sign-off"),
        ("POST", f"/drafts/{d}/gates/editorial/reject", {"revision": rev, "comment": "Off brand."}, "sign-off"),
        ("POST", f"/drafts/{d}/publish", {}, "publish"),
        ("POST", f"/drafts/{d}/retract", {"reason": "Wrong price."}, "publish"),
        ("POST", f"/drafts/{d}/schedule", {"publish_at": later()}, "publish"),
        ("DELETE", f"/drafts/{d}/schedule", None, "publish"),
        ("GET", f"/drafts/{d}/deliveries", None, "read"),
    ]


ROUTE_IDS = ["brief", "draft", "diff", "revise", "evaluate", "actions", "approve", "request-changes", "reject",
             "publish", "retract", "schedule", "unschedule", "deliveries"]


# --- who may call what ------------------------------------------------------------------------------

@pytest.mark.parametrize("index", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
def test_an_outsider_gets_404_from_every_draft_route_and_changes_nothing(api, world, index):
    draft = draft_in_review(world)
    method, path, body, _ = every_route(draft)[index]
    response = send(api("outsider"), method, path, body)
    assert response.status_code == 404, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert Revision.objects.filter(draft=draft).count() == 1
    assert not SignOff.objects.exists() and not Delivery.objects.exists()


@pytest.mark.parametrize("index", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
def test_anonymous_callers_get_401_from_every_draft_route(api, world, index):
    draft = draft_in_review(world)
    method, path, body, _ = every_route(draft)[index]
    assert send(api(None), method, path, body).status_code == 401


@pytest.mark.parametrize(("method", "path"), [("GET", "/briefs"), ("GET", "/queue"), ("POST", "/briefs")])
def test_anonymous_callers_get_401_from_the_lists(api, world, method, path):
    assert send(api(None), method, path, {} if method == "POST" else None).status_code == 401


@pytest.mark.parametrize("index", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
def test_a_token_without_the_routes_scope_gets_403_and_changes_nothing(client, world, index):
    draft = draft_in_review(world)
    method, path, body, scope = every_route(draft)[index]
    others = [s for s in ("read", "write", "sign-off", "publish") if s != scope]
    _, raw = token_create(user=world.editor, name="ci", scopes=others, expires_in_days=None, created_by=world.editor)
    response = send(client, method, path, body, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403 and scope in response.json()["detail"], response.content
    assert Revision.objects.filter(draft=draft).count() == 1
    assert not SignOff.objects.exists() and not Delivery.objects.exists()


@pytest.mark.parametrize(("method", "suffix"), [
    ("PUT", ""), ("GET", "/publish"), ("GET", "/gates/editorial/approve"), ("POST", "/deliveries"),
    ("GET", "/revisions"), ("PATCH", "/schedule"),
])
def test_wrong_methods_get_405(api, world, method, suffix):
    draft = draft_in_review(world)
    response = send(api("editor"), method, f"/drafts/{draft.pk}{suffix}")
    assert response.status_code == 405


def test_a_token_with_the_scope_reads_the_draft(client, world):
    draft = draft_in_review(world)
    _, raw = token_create(user=world.editor, name="ci", scopes=["read"], expires_in_days=None, created_by=world.editor)
    response = send(client, "GET", f"/drafts/{draft.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200 and response.json()["id"] == draft.pk


# --- briefs -----------------------------------------------------------------------------------------

def test_filing_a_brief_needs_the_write_scope(client, world):
    _, raw = token_create(user=world.requester, name="ci", scopes=["read"], expires_in_days=None,
                          created_by=world.requester)
    body = {"brand": world.brand.slug, "title": "Autumn", "goal": "Announce", "audience": "fans", "channel": "blog",
            "template": world.template.slug}
    response = send(client, "POST", "/briefs", body, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403 and not Draft.objects.exists()


def test_the_brief_list_shows_the_callers_briefs_newest_first(api, world):
    first, second = file_brief(world, title="First"), file_brief(world, title="Second")
    body = send(api("requester"), "GET", "/briefs").json()
    assert [b["title"] for b in body["items"]] == ["Second", "First"] and body["next_cursor"] is None
    assert body["items"][0]["drafts"][0]["id"] == second.pk and body["items"][0]["template"] == world.template.slug
    assert send(api("outsider"), "GET", "/briefs").json() == {"items": [], "next_cursor": None}
    assert first.pk != second.pk


def test_the_brief_list_pages_with_a_cursor(api, world):
    drafts = [file_brief(world, title=f"Brief {i}") for i in range(5)]
    client = api("editor")
    page1 = send(client, "GET", "/briefs?limit=3").json()
    page2 = send(client, "GET", f"/briefs?limit=3&cursor={page1['next_cursor']}").json()
    seen = [b["id"] for b in page1["items"] + page2["items"]]
    assert seen == [d.brief_id for d in reversed(drafts)] and page2["next_cursor"] is None
    assert send(client, "GET", "/briefs?limit=3&cursor=").json() == page1  # an empty cursor is the first page


def test_a_brief_shows_its_drafts_with_the_latest_run_of_each_step(api, world):
    draft = draft_in_review(world)
    AgentRun.objects.create(draft=draft, kind=AgentRun.Kind.PLAN, status=AgentRun.Status.FAILED,
                            idempotency_key="t:plan:1", error="timeout")
    AgentRun.objects.create(draft=draft, kind=AgentRun.Kind.PLAN, status=AgentRun.Status.SUCCEEDED,
                            idempotency_key="t:plan:2", attempt_count=2)
    body = send(api("editor"), "GET", f"/briefs/{draft.brief_id}").json()
    assert body["goal"] == "Announce the autumn roast" and body["requested_by"] == world.requester.username
    [only] = body["drafts"]
    assert only["id"] == draft.pk and only["status"] == "in_review"
    steps = {s["kind"]: s for s in only["steps"]}
    assert [s["kind"] for s in only["steps"]] == ["plan", "write"]
    assert steps["plan"]["status"] == "succeeded" and steps["plan"]["attempt_count"] == 2
    assert steps["write"]["status"] == "succeeded"


def test_a_missing_brief_is_404(api, world):
    assert send(api("editor"), "GET", "/briefs/999999").status_code == 404


# --- drafts -----------------------------------------------------------------------------------------

def test_a_draft_carries_its_provenance_and_the_signed_manifest_link(api, world):
    draft = draft_in_review(world)
    body = send(api("editor"), "GET", f"/drafts/{draft.pk}").json()
    assert body["current_revision"]["provenance"] == {"model": "test-model"}
    assert body["manifest_url"].endswith(f"/drafts/{draft.pk}/provenance.json")
    manifest = api("editor").get(body["manifest_url"])
    assert manifest.status_code == 200 and manifest.json()["manifest"]["revision"]["id"] == draft.current_revision_id


def test_a_person_saves_a_revision_and_gets_its_findings(api, world):
    draft = draft_in_review(world)
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/revisions",
                    {"content": "Results guaranteed.", "base_revision": draft.current_revision_id, "note": "tighter"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 2 and body["parent_id"] == draft.current_revision_id and body["note"] == "tighter"
    assert [f["text"].lower() for f in body["findings"]] == ["guaranteed"]
    draft.refresh_from_db()
    assert draft.current_revision_id == body["id"] and body["draft_status"] == "in_review"


def test_a_stale_base_revision_is_a_409_with_the_current_revision(api, world):
    draft = draft_in_review(world)
    base = draft.current_revision_id
    client = api("editor")
    assert send(client, "POST", f"/drafts/{draft.pk}/revisions",
                {"content": "Mine first.", "base_revision": base}).status_code == 201
    response = send(client, "POST", f"/drafts/{draft.pk}/revisions", {"content": "Mine too.", "base_revision": base})
    assert response.status_code == 409
    body = response.json()
    assert body["status"] == 409 and body["code"] == "edit_conflict"
    assert body["current_revision"]["content"] == "Mine first." and body["current_revision"]["id"] != base
    assert Revision.objects.filter(draft=draft).count() == 2


def test_a_requester_cannot_revise(api, world):
    draft = draft_in_review(world)
    response = send(api("requester"), "POST", f"/drafts/{draft.pk}/revisions",
                    {"content": "Mine.", "base_revision": draft.current_revision_id})
    assert response.status_code == 403 and Revision.objects.filter(draft=draft).count() == 1


BASE = "the current revision"


@pytest.mark.parametrize(("body", "field"), [
    ({"content": "   ", "base_revision": BASE}, "content"),
    ({"content": "", "base_revision": BASE}, "content"),
    ({"content": "x" * 200_001, "base_revision": BASE}, "content"),
    ({"content": 42, "base_revision": BASE}, "content"),
    ({"content": "nul\x00byte", "base_revision": BASE}, "content"),
    ({"base_revision": BASE}, "content"),
    ({"content": "Fine."}, "base_revision"),
    ({"content": "Fine.", "base_revision": "latest"}, "base_revision"),
    ({"content": "Fine.", "base_revision": BASE, "note": "n" * 301}, "note"),
    ({"content": "Fine.", "base_revision": BASE, "surprise": True}, "surprise"),
])
def test_bad_revisions_get_422_naming_the_field_and_save_nothing(api, world, body, field):
    draft = draft_in_review(world)
    body = {k: draft.current_revision_id if v == BASE else v for k, v in body.items()}
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/revisions", body)
    assert response.status_code == 422, response.content
    assert field in fields_named(response)
    assert Revision.objects.filter(draft=draft).count() == 1


# --- evaluate ---------------------------------------------------------------------------------------

def test_evaluating_text_returns_findings_and_saves_nothing(api, world):
    draft = draft_in_review(world)
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/evaluate",
                    {"text": "Prices guaranteed.", "channel": "product"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["channel"] == "product" and body["revision"] is None
    assert body["rule_set_version"]["id"] == world.rule_set_version.pk
    categories = {f["category"] for f in body["findings"]}
    assert any(f["text"].lower() == "guaranteed" and f["suggestion"] for f in body["findings"])
    assert len(categories) >= 2  # the banned term, and the product channel's missing disclaimer
    assert not Finding.objects.exists()


def test_evaluating_a_revision_uses_its_text_and_the_drafts_channel(api, world):
    draft = draft_in_review(world, content="Results guaranteed.")
    body = send(api("editor"), "POST", f"/drafts/{draft.pk}/evaluate",
                {"revision": draft.current_revision_id}).json()
    assert body["revision"] == draft.current_revision_id and body["channel"] == "blog"
    assert [f["text"].lower() for f in body["findings"]] == ["guaranteed"]


def test_evaluating_a_revision_of_another_draft_is_404(api, world):
    draft, other = draft_in_review(world), draft_in_review(world)
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/evaluate", {"revision": other.current_revision_id})
    assert response.status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({}, "revision"), ({"revision": 1, "text": "both"}, "text"), ({"text": "x", "channel": "fax"}, "channel"),
    ({"text": ["a"]}, "text"), ({"text": "x", "brand": "acme"}, "brand"),
])
def test_evaluate_needs_exactly_one_of_revision_or_text(api, world, body, field):
    draft = draft_in_review(world)
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/evaluate", body)
    assert response.status_code == 422 and field in fields_named(response)


# --- sign-offs --------------------------------------------------------------------------------------

def test_the_actions_list_shows_each_gate_and_what_the_caller_may_do(api, world):
    draft = draft_in_review(world, risk="medium")
    editor = send(api("editor"), "GET", f"/drafts/{draft.pk}/actions").json()
    assert editor["revision"] == draft.current_revision_id and editor["blocking_findings"] == 0
    assert [(g["gate"], g["status"], g["actions"]) for g in editor["gates"]] == [
        ("editorial", "pending", ["approve", "request_changes", "reject"]),
        ("brand", "waiting", []),
    ]
    assert editor["gates"][1]["reason"] == "risk medium ≥ medium"
    reviewer = send(api("brand_reviewer"), "GET", f"/drafts/{draft.pk}/actions").json()
    assert [(g["can_sign"], g["actions"]) for g in reviewer["gates"]] == [(False, []), (True, [])]


def test_an_editor_approves_the_editorial_gate(api, world):
    draft = draft_in_review(world)
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/gates/editorial/approve",
                    {"revision": draft.current_revision_id})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["decision"] == "approve" and body["gate"] == "editorial" and body["by"] == world.editor.username
    assert body["draft_status"] == "approved"
    actions = send(api("editor"), "GET", f"/drafts/{draft.pk}/actions").json()
    assert actions["gates"][0]["status"] == "approved" and actions["gates"][0]["signoff"]["id"] == body["id"]


def test_a_signoff_is_refused_for_someone_outside_the_gates_group(api, world):
    draft = draft_in_review(world)
    response = send(api("brand_reviewer"), "POST", f"/drafts/{draft.pk}/gates/editorial/approve",
                    {"revision": draft.current_revision_id})
    assert response.status_code == 403 and not SignOff.objects.exists()


def test_request_changes_needs_a_reason_and_then_sends_the_draft_back(api, world):
    draft = draft_in_review(world)
    path = f"/drafts/{draft.pk}/gates/editorial/request-changes"
    response = send(api("editor"), "POST", path, {"revision": draft.current_revision_id})
    assert response.status_code == 422 and "comment" in fields_named(response) and not SignOff.objects.exists()
    response = send(api("editor"), "POST", path, {"revision": draft.current_revision_id, "comment": "Shorter."})
    assert response.status_code == 201 and response.json()["draft_status"] == "changes_requested"


def test_rejecting_needs_a_reason(api, world):
    draft = draft_in_review(world)
    path = f"/drafts/{draft.pk}/gates/editorial/reject"
    assert send(api("editor"), "POST", path, {"revision": draft.current_revision_id, "comment": " "}).status_code == 422
    response = send(api("editor"), "POST", path, {"revision": draft.current_revision_id, "comment": "Off brand."})
    assert response.status_code == 201 and response.json()["draft_status"] == "rejected"


@pytest.mark.parametrize(("gate", "body", "status", "field"), [
    ("editorial", {"revision": "one"}, 422, "revision"),
    ("editorial", {}, 422, "revision"),
    ("editorial", {"revision": 1, "decision": "approve"}, 422, "decision"),
    ("nope", None, 404, None),
    ("legal", None, 422, None),  # legal does not apply to a low-risk draft
])
def test_bad_signoffs_change_nothing(api, world, gate, body, status, field):
    draft = draft_in_review(world)
    body = body if body is not None else {"revision": draft.current_revision_id}
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/gates/{gate}/approve", body)
    assert response.status_code == status, response.content
    assert field is None or field in fields_named(response)
    assert not SignOff.objects.exists()


def test_a_signoff_on_a_stale_revision_is_refused(api, world):
    draft = draft_in_review(world)
    stale = draft.current_revision_id
    send(api("editor"), "POST", f"/drafts/{draft.pk}/revisions", {"content": "Newer.", "base_revision": stale})
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/gates/editorial/approve", {"revision": stale})
    assert response.status_code == 422 and not SignOff.objects.exists()


# --- publishing -------------------------------------------------------------------------------------

def test_publishing_before_approval_is_refused(api, world):
    draft = draft_in_review(world)
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/publish")
    assert response.status_code == 422 and not Delivery.objects.exists()
    draft.refresh_from_db()
    assert draft.status == "in_review"


def test_a_requester_cannot_publish(api, world):
    draft = approve(world, draft_in_review(world))
    assert send(api("requester"), "POST", f"/drafts/{draft.pk}/publish").status_code == 403
    assert not Delivery.objects.exists()


def test_publishing_an_approved_draft_answers_with_its_deliveries(api, world):
    draft = approve(world, draft_in_review(world))
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/publish")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "published"
    [delivery] = body["deliveries"]
    assert delivery["connector"] == {"id": world.connector.pk, "name": "Test CMS"}
    assert delivery["event_type"] == "published" and delivery["status"] == "pending"
    assert delivery["revision"] == draft.current_revision_id


def test_publishing_to_chosen_connectors_checks_they_belong_to_the_brand(api, world):
    draft = approve(world, draft_in_review(world))
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/publish", {"connectors": [world.connector.pk + 1000]})
    assert response.status_code == 422 and "connectors" in fields_named(response) and not Delivery.objects.exists()
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/publish", {"connectors": [world.connector.pk]})
    assert response.status_code == 202 and len(response.json()["deliveries"]) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"connectors": []}, "connectors"), ({"connectors": "all"}, "connectors"), ({"force": True}, "force"),
])
def test_bad_publish_bodies_get_422(api, world, body, field):
    draft = approve(world, draft_in_review(world))
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/publish", body)
    assert response.status_code == 422 and field in fields_named(response) and not Delivery.objects.exists()


def test_the_delivery_ledger_lists_attempts(api, world):
    draft = approve(world, draft_in_review(world))
    send(api("editor"), "POST", f"/drafts/{draft.pk}/publish")
    delivery = Delivery.objects.get()
    DeliveryAttempt.objects.create(delivery=delivery, number=1, status_code=503, latency_ms=12.5,
                                   response_excerpt="busy", error="")
    DeliveryAttempt.objects.create(delivery=delivery, number=2, status_code=None, latency_ms=None,
                                   error="ConnectError: refused")
    [entry] = send(api("brand_reviewer"), "GET", f"/drafts/{draft.pk}/deliveries").json()
    assert entry["webhook_id"] == delivery.webhook_id and "payload" not in entry
    assert [(a["number"], a["status_code"], a["latency_ms"], a["excerpt"], a["error"]) for a in entry["attempts"]] == [
        (1, 503, 12.5, "busy", ""), (2, None, None, "", "ConnectError: refused"),
    ]


def test_retracting_a_published_draft_sends_retractions(api, world):
    draft = approve(world, draft_in_review(world))
    client = api("editor")
    send(client, "POST", f"/drafts/{draft.pk}/publish")
    response = send(client, "POST", f"/drafts/{draft.pk}/retract", {"reason": "Wrong price."})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "retracted" and [d["event_type"] for d in body["deliveries"]] == ["retracted"]


@pytest.mark.parametrize(("body", "status", "field"), [
    ({}, 422, "reason"), ({"reason": ""}, 422, "reason"), ({"reason": "   "}, 422, "reason"),
    ({"reason": "Fine.", "silently": True}, 422, "silently"),
])
def test_retracting_needs_a_reason(api, world, body, status, field):
    draft = approve(world, draft_in_review(world))
    send(api("editor"), "POST", f"/drafts/{draft.pk}/publish")
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/retract", body)
    assert response.status_code == status and field in fields_named(response)
    assert not Delivery.objects.filter(event_type="retracted").exists()


def test_retracting_an_unpublished_draft_is_refused(api, world):
    draft = approve(world, draft_in_review(world))
    assert send(api("editor"), "POST", f"/drafts/{draft.pk}/retract", {"reason": "Oops."}).status_code == 422


def test_scheduling_and_unscheduling_an_approved_draft(api, world):
    draft = approve(world, draft_in_review(world))
    client = api("editor")
    when = timezone.now() + timedelta(days=1)
    response = send(client, "POST", f"/drafts/{draft.pk}/schedule", {"publish_at": when.isoformat()})
    assert response.status_code == 200, response.content
    assert response.json()["publish_requested_by"] == world.editor.username
    draft.refresh_from_db()
    assert draft.publish_at == when and draft.publish_requested_by == world.editor
    assert send(client, "GET", f"/drafts/{draft.pk}").json()["publish_at"] is not None
    response = send(client, "DELETE", f"/drafts/{draft.pk}/schedule")
    assert response.status_code == 200 and response.json()["publish_at"] is None
    assert send(client, "DELETE", f"/drafts/{draft.pk}/schedule").status_code == 422


@pytest.mark.parametrize(("publish_at", "field"), [
    ("yesterday", "publish_at"),
    ((timezone.now() - timedelta(hours=1)).isoformat(), "publish_at"),
    ((timezone.now() + timedelta(days=1)).replace(tzinfo=None).isoformat(), "publish_at"),
    ((timezone.now() + timedelta(days=6 * 366)).isoformat(), "publish_at"),
    (None, "publish_at"),
])
def test_bad_schedules_get_422_naming_publish_at(api, world, publish_at, field):
    draft = approve(world, draft_in_review(world))
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/schedule", {"publish_at": publish_at})
    assert response.status_code == 422 and field in fields_named(response)
    draft.refresh_from_db()
    assert draft.publish_at is None


def test_scheduling_a_draft_in_review_is_refused(api, world):
    draft = draft_in_review(world)
    response = send(api("editor"), "POST", f"/drafts/{draft.pk}/schedule", {"publish_at": later()})
    assert response.status_code == 422


# --- the queue --------------------------------------------------------------------------------------

def test_the_queue_pages_over_sixty_drafts_once_each_in_order_with_filters(api, world):
    blog = [file_brief(world, title=f"Blog {i}") for i in range(60)]
    noise = [file_brief(world, title=f"News {i}", channel="newsletter") for i in range(3)]
    # Ties on created_at are broken by id: give ten drafts the same instant.
    same = timezone.now() - timedelta(minutes=5)
    Draft.objects.filter(pk__in=[d.pk for d in blog[20:30]]).update(created_at=same)
    expected = list(
        Draft.objects.filter(pk__in=[d.pk for d in blog]).order_by("-created_at", "-pk").values_list("pk", flat=True)
    )
    client = api("editor")
    seen, cursor, pages = [], None, 0
    while True:
        query = "channel=blog&limit=25" + (f"&cursor={cursor}" if cursor else "")
        response = send(client, "GET", f"/queue?{query}")
        assert response.status_code == 200, response.content
        body = response.json()
        assert all(item["channel"] == "blog" for item in body["items"])
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and len(set(seen)) == 60 and pages == 3
    assert not set(seen) & {d.pk for d in noise}


def test_the_queue_filters(api, world):
    old = file_brief(world, title="Old roast notes")
    long_ago = timezone.now() - timedelta(hours=50)
    Draft.objects.filter(pk=old.pk).update(created_at=long_ago, status_changed_at=long_ago)
    mine = draft_in_review(world, risk="high")
    Draft.objects.filter(pk=mine.pk).update(assignee=world.editor)
    newsletter = file_brief(world, title="Weekly letter", channel="newsletter")
    client = api("editor")

    def ids(query: str) -> set[int]:
        response = send(client, "GET", f"/queue?{query}")
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["items"]}

    assert ids("") == {old.pk, mine.pk, newsletter.pk}
    assert ids("status=in_review") == {mine.pk}
    assert ids("risk=high") == {mine.pk}
    assert ids("channel=newsletter") == {newsletter.pk}
    assert ids(f"assignee={world.editor.username}") == {mine.pk}
    assert ids("older_than_hours=48") == {old.pk}
    assert ids("newer_than_hours=1") == {mine.pk, newsletter.pk}
    assert ids("q=NOTES") == {old.pk}
    assert ids(f"template={world.template.slug}&brand={world.brand.slug}") == {old.pk, mine.pk, newsletter.pk}
    assert ids(f"brand={world.other_brand.slug}") == set()
    assert send(api("outsider"), "GET", "/queue").json()["items"] == []


def test_the_queue_api_filters_like_the_desk_age_in_the_current_status_and_full_text(api, world):
    # Created long ago but sent to review a minute ago: not waiting long, as the desk sees it.
    fresh = draft_in_review(world, content="## Part 1\n\nSaffron notes in the autumn blend.")
    Draft.objects.filter(pk=fresh.pk).update(created_at=timezone.now() - timedelta(hours=80),
                                             status_changed_at=timezone.now() - timedelta(minutes=1))
    stale = file_brief(world, title="Waiting a while")
    Draft.objects.filter(pk=stale.pk).update(status_changed_at=timezone.now() - timedelta(hours=30))
    client = api("editor")

    def ids(query: str) -> set[int]:
        response = send(client, "GET", f"/queue?{query}")
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["items"]}

    assert ids("older_than_hours=24") == {stale.pk}
    assert ids("newer_than_hours=1") == {fresh.pk}
    assert ids("q=saffron") == {fresh.pk}  # the current text, not only the title
    assert ids("assignee=none") == {fresh.pk, stale.pk}
    for filters in (QueueFilters(older_than_hours=24), QueueFilters(q="saffron")):
        desk = set(queue_drafts_for_user(user=world.editor, tab="all", filters=filters).values_list("pk", flat=True))
        query = "older_than_hours=24" if filters.older_than_hours else "q=saffron"
        assert ids(query) == desk


@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("status=lost", "status"),
    ("cursor=bm9wZQ", "cursor"), ("cursor=%21%21", "cursor"), ("older_than_hours=-1", "older_than_hours"),
    ("q=a%00b", "q"), ("brand=a%20b", "brand"),
])
def test_bad_queue_queries_get_422_naming_the_parameter(api, world, query, field):
    response = send(api("editor"), "GET", f"/queue?{query}")
    assert response.status_code == 422, response.content
    assert field in fields_named(response)


def test_a_superuser_sees_every_brand_in_the_queue(api, world, client):
    draft = draft_in_review(world)
    UserFactory(username="root", is_superuser=True, is_staff=True)
    client.logout()
    assert client.login(username="root", password=PASSWORD)
    assert [i["id"] for i in send(client, "GET", "/queue").json()["items"]] == [draft.pk]


@pytest.mark.parametrize("path", [
    f"/drafts/{2**70}", f"/briefs/{2**70}", f"/drafts/{2**70}/actions", "/drafts/0", "/drafts/-1",
])
def test_ids_out_of_range_are_404_not_server_errors(api, world, path):
    assert send(api("editor"), "GET", path).status_code == 404


def test_a_diff_with_revision_ids_out_of_range_is_404(api, world):
    draft = draft_in_review(world)
    response = send(api("editor"), "GET", f"/drafts/{draft.pk}/diff?a={2**70}&b={draft.current_revision_id}")
    assert response.status_code == 404
