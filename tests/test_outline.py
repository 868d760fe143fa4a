"""The outline checkpoint: the pipeline pauses after the plan, the outline is edited and approved, then the
draft is written from it; queue labels; validation; the views per role; and the live stack end to end."""
from __future__ import annotations

import json
import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from agents.models import PromptTemplateVersion
from agents.pipeline.outline import OutlineInvalid, OutlineRow, outline_approve, outline_of
from editorial import selectors
from editorial.models import Draft
from editorial.queue.selection import queue_drafts_for_user
from governance.models import AuditEvent
from governance.permissions import brand_member_add
from tests.helpers import drive, file_brief


def with_checkpoint(world) -> PromptTemplateVersion:
    old = world.template.active_version
    version = PromptTemplateVersion.objects.create(
        template=world.template, number=old.number + 1, system_text=old.system_text, sections=old.sections,
        section_prompt=old.section_prompt, outline_checkpoint=True,
    )
    world.template.active_version = version
    world.template.save()
    return version


@pytest.fixture
def checkpoint_world(world):
    with_checkpoint(world)
    return world


def paused(world) -> Draft:
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    return draft


EDITED = [
    OutlineRow(heading="Why it is back", instruction="Say why customers asked for it."),
    OutlineRow(heading="## Part 1", instruction="Write part 1, shorter."),
    OutlineRow(heading="Where to buy", instruction=""),
]


def test_the_pipeline_pauses_after_the_plan_for_the_outline_to_be_approved(checkpoint_world, model_at):
    draft = paused(checkpoint_world)
    assert draft.status == Draft.Status.OUTLINE_REVIEW and draft.get_status_display() == "Outline to approve"
    assert [(r.kind, r.status) for r in draft.runs.all()] == [("plan", "succeeded")]  # no retrieve yet
    assert not model_at.requests and draft.current_revision is None
    assert outline_of(draft) == [{"heading": "Part 1", "instruction": "Write part 1."},
                                 {"heading": "Part 2", "instruction": "Write part 2."}]
    assert AuditEvent.objects.filter(action="editorial.outline.ready", object_id=str(draft.pk)).exists()


def test_a_template_version_without_the_checkpoint_goes_straight_on(world, model_at):
    draft = paused(world)
    assert draft.status == Draft.Status.IN_REVIEW


def test_the_approved_outline_is_what_gets_written(checkpoint_world, model_at):
    world = checkpoint_world
    draft = paused(world)
    run = outline_approve(draft=draft, user=world.requester, rows=list(EDITED))
    assert (run.kind, run.status, run.requested_by) == ("plan", "succeeded", world.requester)
    assert run.output["sections"] == [
        {"heading": "Why it is back", "instruction": "Say why customers asked for it."},
        {"heading": "Part 1", "instruction": "Write part 1, shorter."},
        {"heading": "Where to buy", "instruction": ""},
    ]
    assert run.input["edited"] is True
    draft.refresh_from_db()
    assert draft.status == Draft.Status.GENERATING
    assert draft.runs.filter(kind="retrieve", status="queued").count() == 1
    event = AuditEvent.objects.get(action="editorial.outline.approve")
    assert event.actor_user == world.requester
    assert event.data["headings"] == {"old": ["Part 1", "Part 2"], "new": ["Why it is back", "Part 1", "Where to buy"]}
    assert selectors.live_snapshot(draft)["sections_total"] == 3

    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    headings = [line for line in draft.current_revision.content.splitlines() if line.startswith("## ")]
    assert headings == ["## Why it is back", "## Part 1", "## Where to buy"]
    assert "Why it is back" in model_at.requests[0]["prompt"]


def test_approving_twice_starts_the_writing_once(checkpoint_world, model_at):
    world = checkpoint_world
    draft = paused(world)
    outline_approve(draft=draft, user=world.editor, rows=list(EDITED))
    with pytest.raises(ValidationError, match="approved already"):
        outline_approve(draft=draft, user=world.editor, rows=list(EDITED))
    assert draft.runs.filter(kind="retrieve").count() == 1 and draft.runs.filter(kind="plan").count() == 2


@pytest.mark.parametrize(("rows", "message"), [
    ([], "at least one section"),
    ([OutlineRow(heading="", instruction="Orphan instruction")], "1 section needs fixing"),
    ([OutlineRow(heading="x" * 201)], "1 section needs fixing"),
    ([OutlineRow(heading="Same"), OutlineRow(heading="same")], "1 section needs fixing"),
    ([OutlineRow(heading=f"S{i}") for i in range(21)], "at most 20 sections"),
    ([OutlineRow(heading="Fine", instruction="y" * 1001)], "1 section needs fixing"),
])
def test_a_bad_outline_is_refused_with_a_reason_and_changes_nothing(checkpoint_world, model_at, rows, message):
    world = checkpoint_world
    draft = paused(world)
    with pytest.raises(OutlineInvalid, match=message) as caught:
        outline_approve(draft=draft, user=world.editor, rows=rows)
    if "fixing" in message:
        assert any(row.errors for row in caught.value.rows)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.OUTLINE_REVIEW and draft.runs.count() == 1


@pytest.mark.parametrize("who", ["brand_reviewer", "outsider"])
def test_only_editors_and_the_requester_approve_an_outline(checkpoint_world, model_at, who):
    world = checkpoint_world
    draft = paused(world)
    with pytest.raises(PermissionDenied):
        outline_approve(draft=draft, user=world.user(who), rows=list(EDITED))


def test_a_draft_without_an_outline_to_approve_refuses(world, model_at):
    draft = paused(world)
    with pytest.raises(ValidationError, match="no outline to approve"):
        outline_approve(draft=draft, user=world.editor, rows=list(EDITED))


def test_an_outline_to_approve_is_in_the_requesters_and_editors_queues(checkpoint_world, model_at):
    world = checkpoint_world
    draft = paused(world)

    def mine(user):
        return list(queue_drafts_for_user(user=user, tab="mine"))

    assert draft in mine(world.requester) and draft in mine(world.editor)
    assert draft not in mine(world.brand_reviewer) and draft not in mine(world.outsider)
    other_requester = type(world.requester).objects.create(username="ron")
    other_requester.groups.set(world.requester.groups.all())
    brand_member_add(brand=world.brand, user=other_requester)
    assert draft not in mine(other_requester)


# --- the views, per role --------------------------------------------------------------------------

def form(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    return {"heading": [h for h, _ in rows], "instruction": [i for _, i in rows]}


def test_the_draft_page_shows_the_outline_editor_to_who_may_approve(as_user, checkpoint_world, model_at):
    draft = paused(checkpoint_world)
    url = reverse("editorial:draft", args=[draft.pk])
    for who in ("editor", "requester"):
        page = as_user(who).get(url).content.decode()
        assert 'id="outline-form"' in page and 'value="Part 2"' in page and "Write part 2." in page
        assert 'id="live"' not in page and "Outline to approve" in page
    page = as_user("brand_reviewer").get(url).content.decode()
    assert 'id="outline-form"' not in page and "Waiting for an editor of Northwind or Rita" in page
    queue = as_user("requester").get(reverse("editorial:queue")).content.decode()
    assert "Outline to approve" in queue and draft.title in queue


def test_approving_in_the_browser_keeps_the_order_and_drops_empty_rows(as_user, checkpoint_world, model_at):
    draft = paused(checkpoint_world)
    rows = [("Part 2", "Second first."), ("", ""), ("Part 1", "")]
    response = as_user("editor").post(reverse("editorial:outline-approve", args=[draft.pk]), form(rows))
    assert response.status_code == 302
    assert outline_of(draft) == [{"heading": "Part 2", "instruction": "Second first."},
                                 {"heading": "Part 1", "instruction": ""}]
    again = as_user("editor").post(reverse("editorial:outline-approve", args=[draft.pk]), form(rows))
    assert again.status_code == 409 and "approved already" in again.content.decode()


def test_a_bad_outline_in_the_browser_is_shown_again_with_what_was_typed(as_user, checkpoint_world, model_at):
    draft = paused(checkpoint_world)
    rows = [("My new heading", "Keep this text"), ("", "An instruction without a heading")]
    response = as_user("requester").post(reverse("editorial:outline-approve", args=[draft.pk]), form(rows))
    page = response.content.decode()
    assert response.status_code == 422
    assert "1 section needs fixing" in page and "Give this section a heading" in page
    assert 'value="My new heading"' in page and "An instruction without a heading" in page
    assert 'aria-invalid="true"' in page
    draft.refresh_from_db()
    assert draft.status == Draft.Status.OUTLINE_REVIEW
    lopsided = {"heading": ["A", "B"], "instruction": ["only one"]}
    response = as_user("requester").post(reverse("editorial:outline-approve", args=[draft.pk]), lopsided)
    assert response.status_code == 422 and "form was incomplete" in response.content.decode()


@pytest.mark.parametrize(("who", "status"), [("brand_reviewer", 403), ("outsider", 404)])
def test_others_cannot_approve_an_outline_in_the_browser(as_user, checkpoint_world, model_at, who, status):
    draft = paused(checkpoint_world)
    response = as_user(who).post(reverse("editorial:outline-approve", args=[draft.pk]), form([("A", "")]))
    assert response.status_code == status
    draft.refresh_from_db()
    assert draft.status == Draft.Status.OUTLINE_REVIEW


def test_the_outline_route_refuses_other_methods(as_user, checkpoint_world, model_at):
    draft = paused(checkpoint_world)
    assert as_user("editor").get(reverse("editorial:outline-approve", args=[draft.pk])).status_code == 405


# --- the live stack -------------------------------------------------------------------------------

def test_an_outline_is_approved_and_the_draft_written_end_to_end(live_stack, transactional_db):
    from websockets.sync.client import connect

    from tests.conftest import csrf_token
    from tests.factories import build_world

    world = build_world()
    with_checkpoint(world)
    rita = live_stack.client("rita")
    draft = file_brief(world)
    ws = live_stack.url.replace("http://", "ws://") + f"/ws/drafts/{draft.pk}/"

    def wait_for(status: str) -> None:
        deadline = time.monotonic() + 90
        with connect(ws, origin=live_stack.url,
                     additional_headers={"Cookie": f"sessionid={rita.cookies['sessionid']}"}) as socket:
            while Draft.objects.get(pk=draft.pk).status != status:
                try:
                    event = json.loads(socket.recv(timeout=min(2, deadline - time.monotonic())))
                except TimeoutError:
                    event = {}
                assert time.monotonic() < deadline, f"still {Draft.objects.get(pk=draft.pk).status}"
                if event.get("kind") == "status" and event.get("status") == "failed":
                    pytest.fail(Draft.objects.get(pk=draft.pk).status_reason)

    wait_for("outline_review")
    assert not draft.runs.filter(kind="retrieve").exists()
    page = rita.get(f"/drafts/{draft.pk}/")
    assert 'id="outline-form"' in page.text
    response = rita.post(f"/drafts/{draft.pk}/outline/", data={
        "csrfmiddlewaretoken": csrf_token(page.text),
        "heading": ["Part 2", "A new closing section"], "instruction": ["", "Invite readers in."],
    })
    assert response.status_code == 200 and "Outline approved (2 sections)" in response.text
    wait_for("in_review")
    content = Draft.objects.get(pk=draft.pk).current_revision.content
    assert [line for line in content.splitlines() if line.startswith("## ")] == ["## Part 2", "## A new closing section"]


# --- the API --------------------------------------------------------------------------------------

def api(client, method: str, path: str, body: dict | None = None):
    kwargs = {"content_type": "application/json"}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method)("/api/v1" + path, **kwargs)


def test_the_api_shows_and_approves_an_outline(as_user, checkpoint_world, model_at):
    draft = paused(checkpoint_world)
    path = f"/drafts/{draft.pk}/outline"
    got = api(as_user("requester"), "get", path).json()
    assert got == {"draft_status": "outline_review", "can_approve": True, "sections": [
        {"heading": "Part 1", "instruction": "Write part 1."}, {"heading": "Part 2", "instruction": "Write part 2."}]}
    assert api(as_user("brand_reviewer"), "get", path).json()["can_approve"] is False
    assert api(as_user("brand_reviewer"), "post", path, {"sections": [{"heading": "A"}]}).status_code == 403
    client = as_user("editor")
    bad = api(client, "post", path, {"sections": [{"heading": "A"}, {"heading": "", "instruction": "x"}]})
    assert bad.status_code == 422 and "sections.1" in json.dumps(bad.json())
    assert api(client, "post", path, {"sections": []}).status_code == 422
    done = api(client, "post", path, {"sections": [{"heading": "Only one", "instruction": "All of it."}]})
    assert done.status_code == 202 and done.json()["draft_status"] == "generating"
    assert done.json()["sections"] == [{"heading": "Only one", "instruction": "All of it."}]
    again = api(client, "post", path, {"sections": [{"heading": "Only one"}]})
    assert again.status_code == 409 and "approved already" in again.json()["detail"]
