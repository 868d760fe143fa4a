"""Rewriting one section with an instruction: the proposal's run, accepting (onto the base or onto a newer
revision), dismissing, failures and bad input; the views per role; and the live stack end to end."""
from __future__ import annotations

import json
import re
import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse

from agents.knowledge import document_ingest
from agents.models import AgentRun, RunSection
from agents.pipeline import regenerate as regen
from agents.pipeline import writer
from agents.pipeline.kinds import run_execute
from agents.pipeline.regenerate import ProposalConflict, proposal_accept, proposal_dismiss, section_regenerate
from agents.pipeline.runs import TransientRunError
from agents.pipeline.writer import clean_section_text
from editorial.editing import draft_edit
from editorial.models import Draft, Proposal, Revision
from editorial.sections import replace_section, split_sections
from governance.gates import gate_states
from governance.models import AuditEvent, Finding
from governance.signoffs import signoff_record
from tests.helpers import draft_in_review, file_brief

TEXT = (
    "## Back for the season\n\nOur autumn roast is back.\n\n"
    "## How it tastes\n\nNotes of cherry and cocoa.\n\n"
    "## Price\n\nTwelve euros for 250 g."
)
NEW_TASTE = "Baked plum, dark cocoa and a warm finish."


@pytest.fixture
def events(monkeypatch):
    """Every event the rewrite pushes to the draft's watchers."""
    seen: list[dict] = []
    for module in (regen, writer):
        monkeypatch.setattr(module, "push_draft_event", lambda draft_id, data, **kw: seen.append(data))
    return seen


def drive(draft: Draft, *, max_steps: int = 10) -> None:
    """What the worker does with rewrites: execute them in order (retrying transient failures). The
    pipeline's own queued plan run (the drafts here are put in review by hand) is left alone."""
    for _ in range(max_steps):
        run = AgentRun.objects.filter(draft=draft, kind="regenerate", status=AgentRun.Status.QUEUED).order_by(
            "id").first()
        if run is None:
            return
        try:
            run_execute(run_id=run.pk)
        except TransientRunError:
            continue


def quiet_draft_in_review(world, content: str = TEXT) -> Draft:
    """A draft in review whose pipeline never runs: its queued plan run is cancelled before the commit
    that would hand it to a live worker."""
    with transaction.atomic():
        draft = draft_in_review(world, content=content)
        AgentRun.objects.filter(draft=draft, kind="plan").update(status=AgentRun.Status.CANCELLED)
    return draft


def ask(world, draft: Draft, *, section: int = 1, instruction: str = f"[[echo:{NEW_TASTE}]] warmer", key: str = "k1",
        user=None) -> Proposal:
    return section_regenerate(draft=draft, user=user or world.editor, section_index=section, instruction=instruction,
                              idempotency_key=key)


# --- the sections of a text -----------------------------------------------------------------------

def test_a_section_is_replaced_and_every_other_character_kept():
    sections = split_sections("Lead.\n\n" + TEXT)
    assert [s.heading for s in sections] == ["Back for the season", "How it tastes", "Price"]
    assert sections[1].body == "Notes of cherry and cocoa."
    out = replace_section("Lead.\n\n" + TEXT, sections[1], "  Plum.\n")
    assert out == "Lead.\n\n" + TEXT.replace("Notes of cherry and cocoa.", "Plum.")
    assert replace_section(TEXT, split_sections(TEXT)[2], "Eleven.") == TEXT.replace("Twelve euros for 250 g.", "Eleven.")


def test_model_output_loses_a_repeated_heading_and_cannot_start_a_new_section():
    assert clean_section_text("## How it tastes\nIt tastes of plum.\n## Extra\nMore to say.", "How it tastes") == (
        "It tastes of plum.\n### Extra\nMore to say."
    )
    assert clean_section_text("   \n", "x") == ""


# --- the run --------------------------------------------------------------------------------------

def test_a_rewrite_streams_into_a_pending_proposal_and_leaves_the_draft_as_it_was(
    world, model_at, events, django_capture_on_commit_callbacks
):
    document_ingest(brand=world.brand, title="Tasting notes", body="The autumn roast tastes of baked plum and cocoa.")
    draft = draft_in_review(world, content=TEXT)
    base = draft.current_revision
    proposal = ask(world, draft)
    assert proposal.status == "running" and proposal.section_heading == "How it tastes"
    run = proposal.run
    assert (run.kind, run.requested_by, run.input) == ("regenerate", world.editor, {
        "section_index": 1, "heading": "How it tastes", "instruction": f"[[echo:{NEW_TASTE}]] warmer",
        "base_revision": base.pk})

    with django_capture_on_commit_callbacks(execute=True):
        drive(draft)
    proposal.refresh_from_db()
    draft.refresh_from_db()
    assert proposal.status == "pending"
    assert draft.current_revision_id == base.pk and draft.status == "in_review"  # nothing changed yet
    revision = proposal.revision
    assert revision.content == TEXT.replace("Notes of cherry and cocoa.", NEW_TASTE)
    assert (revision.parent, revision.author_run, revision.number) == (base, run, 2)
    prov = revision.provenance
    assert prov["model"] == "test-model" and prov["model_version"]["name"] == "Settings model"
    assert prov["prompt_template_version"]["id"] == world.template.active_version_id
    assert prov["regenerated"]["instruction"] == f"[[echo:{NEW_TASTE}]] warmer"
    assert prov["sources"][0]["title"] == "Tasting notes"
    # the prompt: the current section text, the instruction, the sources fenced as untrusted
    prompt = model_at.requests[-1]["prompt"]
    assert "Notes of cherry and cocoa." in prompt and "warmer" in prompt
    assert "baked plum and cocoa" in prompt and "untrusted" in prompt
    assert "Twelve euros" not in prompt  # only the section being rewritten
    # streamed live, in order, to the proposal panel (never as "run" text over the draft)
    deltas = [e for e in events if e.get("delta") is not None]
    assert deltas and all(e["kind"] == "proposal" and e["proposal"] == proposal.pk for e in deltas)
    assert "".join(e["delta"] for e in sorted(deltas, key=lambda e: e["offset"])).strip() == NEW_TASTE
    assert events[-1]["status"] == "pending"
    assert RunSection.objects.get(run=run).text == NEW_TASTE
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"editorial.proposal.request", "agents.run.regenerate.succeed", "editorial.proposal.ready"} <= actions


def test_accepting_makes_the_proposal_current_reopens_gates_and_checks_the_text(world, model_at):
    draft = draft_in_review(world, content=TEXT)
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    assert draft.status == "approved"
    proposal = ask(world, draft, instruction="[[echo:Results guaranteed, with plum and cocoa.]]")
    drive(draft)
    proposal.refresh_from_db()
    revision = proposal_accept(draft=draft, user=world.editor, proposal_id=proposal.pk)
    draft.refresh_from_db()
    proposal.refresh_from_db()
    assert revision == proposal.revision and draft.current_revision == revision
    assert (proposal.status, proposal.decided_by) == ("accepted", world.editor)
    assert draft.status == "in_review"  # the editorial gate re-opened, as after a person's edit
    assert {s.gate.slug: s.status for s in gate_states(draft)}["editorial"] == "pending"
    assert "guaranteed" in [f.text for f in Finding.objects.filter(revision=revision)]
    assert AuditEvent.objects.filter(action="editorial.proposal.accept", object_id=str(proposal.pk)).exists()

    with pytest.raises(ValidationError, match="accepted already by Eddie"):
        proposal_accept(draft=draft, user=world.editor, proposal_id=proposal.pk)
    assert draft.revisions.count() == 2


def test_accepting_after_another_section_changed_applies_the_rewrite_onto_the_newer_revision(world, model_at):
    draft = draft_in_review(world, content=TEXT)
    proposal = ask(world, draft)
    drive(draft)
    newer = draft_edit(draft=draft, user=world.editor, content=TEXT.replace("Twelve", "Eleven"),
                       base_revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    revision = proposal_accept(draft=draft, user=world.editor, proposal_id=proposal.pk)
    assert revision.content == TEXT.replace("Twelve", "Eleven").replace("Notes of cherry and cocoa.", NEW_TASTE)
    assert revision.parent == newer and revision.number == 4
    assert revision.provenance["applied_onto"] == {"revision": newer.pk, "number": 3}
    draft.refresh_from_db()
    assert draft.current_revision == revision


def test_accepting_after_the_same_section_changed_is_refused_and_changes_nothing(world, model_at):
    draft = draft_in_review(world, content=TEXT)
    proposal = ask(world, draft)
    drive(draft)
    draft_edit(draft=draft, user=world.editor, content=TEXT.replace("cherry", "cherries"),
               base_revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    current = draft.current_revision_id
    with pytest.raises(ProposalConflict, match="“How it tastes” was changed in r3"):
        proposal_accept(draft=draft, user=world.editor, proposal_id=proposal.pk)
    draft.refresh_from_db()
    proposal.refresh_from_db()
    assert draft.current_revision_id == current and draft.revisions.count() == 3
    assert proposal.status == "pending"  # kept: nothing is lost


def test_dismissing_is_audited_and_a_dismissed_proposal_cannot_be_accepted(world, model_at):
    draft = draft_in_review(world, content=TEXT)
    proposal = ask(world, draft)
    drive(draft)
    proposal_dismiss(draft=draft, user=world.editor, proposal_id=proposal.pk)
    proposal.refresh_from_db()
    assert proposal.status == "dismissed"
    event = AuditEvent.objects.get(action="editorial.proposal.dismiss")
    assert event.actor_user == world.editor and event.data["status"] == ["pending", "dismissed"]
    with pytest.raises(ValidationError, match="dismissed already"):
        proposal_accept(draft=draft, user=world.editor, proposal_id=proposal.pk)
    draft.refresh_from_db()
    assert draft.current_revision.number == 1


def test_a_failed_rewrite_fails_the_proposal_with_its_reason_and_not_the_draft(world, model_at):
    model_at.fail_next(1, status=400, body="context too long")
    draft = draft_in_review(world, content=TEXT)
    proposal = ask(world, draft)
    drive(draft)
    proposal.refresh_from_db()
    draft.refresh_from_db()
    assert proposal.status == "failed" and "context too long" in proposal.run.error
    assert draft.status == "in_review" and draft.status_reason == "" and draft.current_revision.number == 1
    assert AuditEvent.objects.filter(action="editorial.proposal.fail").exists()
    with pytest.raises(ValidationError, match="only a finished one"):
        proposal_accept(draft=draft, user=world.editor, proposal_id=proposal.pk)
    proposal_dismiss(draft=draft, user=world.editor, proposal_id=proposal.pk)  # set aside


def test_a_transient_error_retries_and_the_proposal_keeps_running(world, model_at):
    model_at.fail_next(1, status=503)
    draft = draft_in_review(world, content=TEXT)
    proposal = ask(world, draft)
    drive(draft)
    proposal.refresh_from_db()
    # Retried inside the guarded call (agents/calls/guarded.py): one attempt of the run, two requests.
    assert proposal.status == "pending" and proposal.run.attempt_count == 1
    assert len(model_at.requests) == 2


def test_a_double_submit_starts_one_run(world, model_at):
    draft = draft_in_review(world, content=TEXT)
    first = ask(world, draft, key="same")
    again = ask(world, draft, key="same")
    assert again.pk == first.pk and again.replayed
    assert AgentRun.objects.filter(kind="regenerate").count() == 1
    with pytest.raises(ValidationError, match="sent already"):
        ask(world, draft, key="same", instruction="something else")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"instruction": "   "}, "Say how the section should change"),
    ({"instruction": "x" * 501}, "to 500 characters"),
    ({"section": 3}, "There is no section 4: r1 has 3"),
    ({"section": -1}, "There is no section 0"),
])
def test_bad_input_is_refused_with_a_reason_and_starts_nothing(world, kwargs, message):
    draft = draft_in_review(world, content=TEXT)
    with pytest.raises(ValidationError, match=message):
        ask(world, draft, **kwargs)
    assert not Proposal.objects.exists() and not AgentRun.objects.filter(kind="regenerate").exists()


def test_a_second_rewrite_of_a_section_being_written_waits(world):
    draft = draft_in_review(world, content=TEXT)
    ask(world, draft, key="a")
    with pytest.raises(ValidationError, match="being written already"):
        ask(world, draft, key="b")
    ask(world, draft, key="c", section=2)  # another section is fine


def test_only_a_few_rewrites_of_one_draft_run_at_once(world):
    draft = draft_in_review(world, content=TEXT + "\n\n## Where\n\nIn every shop.")
    for section in range(3):
        ask(world, draft, section=section, key=f"s{section}")
    with pytest.raises(ValidationError, match="3 rewrites of this draft are being written"):
        ask(world, draft, section=3, key="s3")


def test_a_draft_still_generating_cannot_be_rewritten(world):
    draft = file_brief(world)
    with pytest.raises(ValidationError, match="still being generated"):
        ask(world, draft)


@pytest.mark.parametrize("who", ["requester", "brand_reviewer", "outsider"])
def test_only_people_who_may_edit_can_ask_accept_or_dismiss(world, model_at, who):
    draft = draft_in_review(world, content=TEXT)
    with pytest.raises(PermissionDenied):
        ask(world, draft, user=world.user(who))
    proposal = ask(world, draft)
    drive(draft)
    with pytest.raises(PermissionDenied):
        proposal_accept(draft=draft, user=world.user(who), proposal_id=proposal.pk)
    with pytest.raises(PermissionDenied):
        proposal_dismiss(draft=draft, user=world.user(who), proposal_id=proposal.pk)


def test_a_proposal_of_another_draft_cannot_be_accepted_through_this_one(world, model_at):
    one = draft_in_review(world, content=TEXT)
    other = draft_in_review(world, content=TEXT)
    proposal = ask(world, one)
    drive(one)
    with pytest.raises(ValidationError, match="not one of this draft's"):
        proposal_accept(draft=other, user=world.editor, proposal_id=proposal.pk)
    other.refresh_from_db()
    assert other.current_revision.number == 1


# --- the views, per role --------------------------------------------------------------------------

def post_rewrite(client, draft, **data):
    body = {"section": 1, "instruction": "warmer", "base_revision": draft.current_revision_id, "key": "form-1", **data}
    return client.post(reverse("editorial:regenerate", args=[draft.pk]), body)


def test_the_draft_page_offers_the_rewrite_form_to_editors_only(as_user, world):
    draft = draft_in_review(world, content=TEXT)
    page = as_user("editor").get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert 'id="regen-form"' in page and '<option value="2">3. Price</option>' in page
    for who in ("requester", "brand_reviewer"):
        page = as_user(who).get(reverse("editorial:draft", args=[draft.pk])).content.decode()
        assert 'id="regen-form"' not in page and "Our autumn roast is back." in page


def test_an_editor_asks_for_a_rewrite_in_the_browser(as_user, world):
    draft = draft_in_review(world, content=TEXT)
    client = as_user("editor")
    response = post_rewrite(client, draft)
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/drafts/{draft.pk}/#proposal-{proposal.pk}")
    assert post_rewrite(client, draft).status_code == 302  # the double click
    assert Proposal.objects.count() == 1
    page = client.get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert "Proposed rewrite of “How it tastes”" in page and "Being written" in page
    assert f'data-proposal-stream="{proposal.pk}"' in page
    panel = client.get(reverse("editorial:proposals", args=[draft.pk]))
    assert panel.status_code == 200 and f'id="proposal-{proposal.pk}"' in panel.content.decode()
    assert "<html" not in panel.content.decode()


@pytest.mark.parametrize(("data", "message"), [
    ({"instruction": ""}, "Say how the section should change"),
    ({"instruction": "y" * 501}, "at most 500 characters"),
    ({"section": 9}, "There is no section 10"),
    ({"section": "first"}, "Enter a whole number"),
    ({"base_revision": 999999}, "The draft changed since you opened it"),
    ({"key": ""}, "The form was incomplete"),
])
def test_bad_rewrite_requests_show_the_form_again_with_the_reason(as_user, world, data, message):
    draft = draft_in_review(world, content=TEXT)
    response = post_rewrite(as_user("editor"), draft, **data)
    assert response.status_code == 422
    page = response.content.decode()
    assert message in page and 'id="regenerate" open' in page
    assert not Proposal.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("requester", 403), ("brand_reviewer", 403), ("outsider", 404)])
def test_people_who_may_not_edit_cannot_ask_for_a_rewrite(as_user, world, who, status):
    draft = draft_in_review(world, content=TEXT)
    assert post_rewrite(as_user(who), draft).status_code == status
    assert not Proposal.objects.exists()


def test_the_rewrite_routes_refuse_other_methods(as_user, world):
    draft = draft_in_review(world, content=TEXT)
    client = as_user("editor")
    assert client.get(reverse("editorial:regenerate", args=[draft.pk])).status_code == 405
    assert client.get(reverse("editorial:proposal-accept", args=[draft.pk, 1])).status_code == 405
    assert client.post(reverse("editorial:proposals", args=[draft.pk])).status_code == 405
    assert as_user("outsider").get(reverse("editorial:proposals", args=[draft.pk])).status_code == 404


def test_the_panel_shows_the_diff_and_accepting_it_in_the_browser_changes_the_draft(as_user, world, model_at):
    draft = draft_in_review(world, content=TEXT)
    proposal = ask(world, draft)
    drive(draft)
    client = as_user("brand_reviewer")
    page = client.get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert "Ready to review" in page and "<ins>" in page and "/accept/" not in page  # sees, cannot decide
    client = as_user("editor")
    page = client.get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert re.search(r"<del>[^<]*cherry", page) and re.search(r"<ins>[^<]*plum", page)
    assert 'id="changes"' not in page  # the proposal (r2) is newer than current (r1) but not a change of it
    assert re.search(r'id="revision-2".*?pill proposed', page, re.DOTALL)  # marked in the timeline
    accept = reverse("editorial:proposal-accept", args=[draft.pk, proposal.pk])
    assert as_user("requester").post(accept).status_code == 403
    response = as_user("editor").post(accept, follow=True)
    assert response.status_code == 200 and "r2 is the current revision" in response.content.decode()
    assert NEW_TASTE in response.content.decode()
    assert re.search(r'id="changes".*<strong>r1 → r2</strong>', response.content.decode(), re.DOTALL)
    again = as_user("editor").post(accept)
    assert again.status_code == 409 and "accepted already" in again.content.decode()


def test_a_conflicting_accept_answers_409_and_keeps_the_proposal(as_user, world, model_at):
    draft = draft_in_review(world, content=TEXT)
    proposal = ask(world, draft)
    drive(draft)
    draft_edit(draft=draft, user=world.editor, content=TEXT.replace("cocoa", "chocolate"),
               base_revision_id=draft.current_revision_id)
    client = as_user("editor")
    page = client.get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert "was changed there too" in page
    response = client.post(reverse("editorial:proposal-accept", args=[draft.pk, proposal.pk]))
    assert response.status_code == 409 and "would undo that change" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "pending"


def test_another_drafts_proposal_is_not_found_through_this_draft(as_user, world, model_at):
    one, other = draft_in_review(world, content=TEXT), draft_in_review(world, content=TEXT)
    proposal = ask(world, one)
    drive(one)
    client = as_user("editor")
    for route in ("editorial:proposal-accept", "editorial:proposal-dismiss"):
        assert client.post(reverse(route, args=[other.pk, proposal.pk])).status_code == 404
    response = client.post(reverse("editorial:proposal-dismiss", args=[one.pk, proposal.pk]), follow=True)
    assert "Dismissed the proposed “How it tastes”" in response.content.decode()
    assert Proposal.objects.get().status == "dismissed"


# --- the live stack -------------------------------------------------------------------------------

def test_a_rewrite_streams_over_the_websocket_and_is_accepted_end_to_end(live_stack, transactional_db):
    from websockets.sync.client import connect

    from tests.conftest import csrf_token
    from tests.factories import build_world

    world = build_world()
    draft = quiet_draft_in_review(world)
    live_stack.llm.tokens_per_second = 20
    eddie = live_stack.client("eddie")
    page = eddie.get(f"/drafts/{draft.pk}/")
    key = re.search(r'name="key" value="([0-9a-f]+)"', page.text).group(1)
    ws = live_stack.url.replace("http://", "ws://") + f"/ws/drafts/{draft.pk}/"
    seen: list[dict] = []
    with connect(ws, origin=live_stack.url,
                 additional_headers={"Cookie": f"sessionid={eddie.cookies['sessionid']}"}) as socket:
        form = {"csrfmiddlewaretoken": csrf_token(page.text), "section": "2", "base_revision": draft.current_revision_id,
                "key": key, "instruction": "[[echo:Eleven euros for 250 g, online and in every shop.]] cite it"}
        response = eddie.post(f"/drafts/{draft.pk}/regenerate/", data=form)
        assert response.status_code == 200 and "Writing a new version of “Price”" in response.text
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            event = json.loads(socket.recv(timeout=deadline - time.monotonic()))
            seen.append(event)
            if event.get("kind") == "proposal" and event.get("status") in ("pending", "failed"):
                break
    proposal = Proposal.objects.get()
    assert proposal.status == "pending", proposal.run.error
    deltas = [e["delta"] for e in seen if e.get("kind") == "proposal" and "delta" in e]
    assert len(deltas) > 1 and "".join(deltas).strip() == "Eleven euros for 250 g, online and in every shop."
    assert not any(e.get("kind") == "run" and "delta" in e for e in seen)  # nothing over the draft's own text
    assert Draft.objects.get().current_revision.number == 1

    page = eddie.get(f"/drafts/{draft.pk}/")
    accepted = eddie.post(f"/drafts/{draft.pk}/proposals/{proposal.pk}/accept/",
                          data={"csrfmiddlewaretoken": csrf_token(page.text)})
    assert accepted.status_code == 200 and "Eleven euros for 250 g, online and in every shop" in accepted.text
    assert Draft.objects.get().current_revision == Revision.objects.get(number=2)


def test_proposals_can_be_inspected_but_not_changed_in_the_admin(admin_client, world, model_at):
    draft = draft_in_review(world, content=TEXT)
    proposal = ask(world, draft)
    drive(draft)
    listing = admin_client.get(reverse("admin:editorial_proposal_changelist"))
    assert listing.status_code == 200 and "How it tastes" in listing.content.decode()
    assert admin_client.post(reverse("admin:editorial_proposal_change", args=[proposal.pk]), {}).status_code == 403


# --- the API --------------------------------------------------------------------------------------

def api(client, method: str, path: str, body: dict | None = None, **headers):
    kwargs = {"content_type": "application/json", **headers}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method)("/api/v1" + path, **kwargs)


def test_the_api_asks_for_a_rewrite_once_per_idempotency_key_and_accepts_it(as_user, world, model_at):
    draft = draft_in_review(world, content=TEXT)
    client = as_user("editor")
    body = {"section_index": 1, "instruction": f"[[echo:{NEW_TASTE}]]", "base_revision": draft.current_revision_id}
    first = api(client, "post", f"/drafts/{draft.pk}/proposals", body, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == 202 and first.json()["status"] == "running"
    again = api(client, "post", f"/drafts/{draft.pk}/proposals", body, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert Proposal.objects.count() == 1
    drive(draft)
    got = api(client, "get", f"/drafts/{draft.pk}/proposals/{first.json()['id']}").json()
    assert got["status"] == "pending" and got["text"] == NEW_TASTE and got["requested_by"] == "eddie"
    accepted = api(client, "post", f"/drafts/{draft.pk}/proposals/{got['id']}/accept")
    assert accepted.status_code == 200
    assert accepted.json()["revision"]["number"] == 2 and accepted.json()["draft_status"] == "in_review"
    twice = api(client, "post", f"/drafts/{draft.pk}/proposals/{got['id']}/accept")
    assert twice.status_code == 409 and twice.json()["code"] == "already_decided"
    listed = api(client, "get", f"/drafts/{draft.pk}/proposals").json()
    assert [p["status"] for p in listed] == ["accepted"]


def test_the_api_refuses_bad_rewrites_with_problems(as_user, world, model_at):
    draft = draft_in_review(world, content=TEXT)
    path = f"/drafts/{draft.pk}/proposals"
    ok = {"section_index": 1, "instruction": "warmer"}
    assert api(as_user("requester"), "post", path, ok).status_code == 403
    assert api(as_user("outsider"), "post", path, ok).status_code == 404
    client = as_user("editor")
    response = api(client, "post", path, {"section_index": 7, "instruction": "warmer"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "section"
    response = api(client, "post", path, {"section_index": 1, "instruction": ""})
    assert response.status_code == 422 and "instruction" in json.dumps(response.json())
    assert not Proposal.objects.exists()
    proposal = ask(world, draft)
    drive(draft)
    draft_edit(draft=draft, user=world.editor, content=TEXT.replace("cocoa", "chocolate"),
               base_revision_id=draft.current_revision_id)
    conflict = api(client, "post", f"/drafts/{draft.pk}/proposals/{proposal.pk}/accept")
    assert conflict.status_code == 409 and conflict.json()["code"] == "proposal_conflict"
    other = draft_in_review(world, content=TEXT)
    assert api(client, "post", f"/drafts/{other.pk}/proposals/{proposal.pk}/dismiss").status_code == 404
    dismissed = api(client, "post", f"/drafts/{draft.pk}/proposals/{proposal.pk}/dismiss")
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"


def test_a_reload_mid_rewrite_shows_the_text_written_so_far_and_a_failure_its_reason(as_user, world, model_at):
    draft = draft_in_review(world, content=TEXT)
    proposal = ask(world, draft)
    RunSection.objects.create(run=proposal.run, index=1, heading="How it tastes", text="w1 w2 <b>w3</b> ")
    page = as_user("editor").get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert f'data-proposal-stream="{proposal.pk}">w1 w2 &lt;b&gt;w3&lt;/b&gt; </div>' in page  # escaped, exact
    RunSection.objects.all().delete()
    model_at.fail_next(1, status=400, body="prompt too long")
    drive(draft)
    page = as_user("editor").get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert "The rewrite failed:" in page and "prompt too long" in page and "Generation failed" not in page


def test_model_output_loses_label_lines_heading_echoes_and_doubled_list_numbers():
    raw = (
        "Introduction.\n\"Our winter blend is here.\"\n\nIntroduction. We roast it in small batches.\n\n"
        "1. 1. Taste it in store.\n2. 2. Order online.\n- - Free delivery.\n\nBenefits\nIt keeps.\n\nProcessing.\n"
    )
    assert clean_section_text(raw, "Introduction") == (
        "\"Our winter blend is here.\"\n\nWe roast it in small batches.\n\n"
        "1. Taste it in store.\n2. Order online.\n- Free delivery.\n\nIt keeps."
    )


def test_cleaning_keeps_short_sentences_labels_with_a_colon_and_ordinary_lists():
    raw = "Thank you.\nWhy do you love it?\nIngredients:\n1. Oats.\n2. Water.\nI love it!"
    assert clean_section_text(raw, "Details") == raw


def test_a_one_word_question_alone_on_its_line_is_a_label_and_goes():
    # As the real model writes it: a "Why?" heading a paragraph, a "Where?" closing the section.
    raw = (
        "Our winter blend is back in every shop.\n\nWhy?\nBecause you asked for it all summer.\n\n"
        "Where?\nIn all twelve shops from Monday.\n\nWhere?"
    )
    assert clean_section_text(raw, "Back for winter") == (
        "Our winter blend is back in every shop.\n\nBecause you asked for it all summer.\n\n"
        "In all twelve shops from Monday."
    )


def test_a_line_that_is_only_the_drafts_title_or_the_sections_heading_goes():
    # As the real model wrote it between two paragraphs of "Oat milk now free".
    raw = (
        "We roast in Huila.\nOat milk now free\n\nWe are happy to tell you.\n\nWhat is new:\n"
        "Oat milk is now free in every shop."
    )
    assert clean_section_text(raw, "What is new", "Oat  milk now free") == (
        "We roast in Huila.\n\nWe are happy to tell you.\n\nOat milk is now free in every shop."
    )
    # Without a title only the heading is a label; a sentence naming the title stays.
    assert clean_section_text("Oat milk now free\nOat milk now free in every shop.", "Details") == (
        "Oat milk now free\nOat milk now free in every shop."
    )


def test_a_variants_master_title_alone_on_a_line_goes_too():
    raw = "Winter opening hours\n\nThe winter months are coming."
    assert clean_section_text(raw, "What to do next", "Winter opening hours — Office teams") == (
        "The winter months are coming."
    )


def test_the_models_control_tokens_leave_the_text():
    # As the real Gemma 3 270M wrote it, mid-line; and other models' end-of-text tokens.
    raw = ("It is worth every euro!<start_of_image>The shop opens at 7 am.\n"
           "See you soon. <end_of_turn>\n<|endoftext|>\nAsk for the <b>menu</b> <eos> at the counter.")
    assert clean_section_text(raw, "Details") == (
        "It is worth every euro! The shop opens at 7 am.\nSee you soon.\n\nAsk for the <b>menu</b> at the counter."
    )


def test_a_real_question_stays_even_when_short_or_sharing_its_line():
    raw = "Why not?\nWhy? Because it sold out.\nDid you try it?\nWhy is it dark?"
    assert clean_section_text(raw, "Details") == raw
