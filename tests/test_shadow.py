"""Shadow runs: a model version in SHADOW status writes the same sections with the same prompts as
the draft's writer; the result is stored with provenance and compared in the desk, and neither
its success nor its failure changes the draft."""
from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from agents.calls import budgets
from agents.pipeline import shadow
from agents.models import AgentRun, ModelVersion, RunSection
from agents.pipeline.kinds import run_execute
from agents.pipeline.runs import TransientRunError
from editorial.models import Draft
from governance.models import AuditEvent
from tests.conftest import csrf_token
from tests.factories import build_world
from tests.helpers import file_brief

Kind, Status = AgentRun.Kind, AgentRun.Status


def drive_pipeline(draft: Draft, *, max_steps: int = 20) -> None:
    """What the worker does for the draft's own steps (shadow runs are left to the test)."""
    for _ in range(max_steps):
        run = (AgentRun.objects.filter(draft=draft, status=Status.QUEUED).exclude(kind=Kind.SHADOW)
               .order_by("id").first())
        if run is None:
            return
        try:
            run_execute(run_id=run.pk)
        except TransientRunError:
            continue


def shadow_version(base_url: str, *, name: str = "Chat challenger", mode: str = "chat") -> ModelVersion:
    return ModelVersion.objects.create(
        name=name, base_url=base_url, model="test-model", mode=mode, status=ModelVersion.Status.SHADOW,
        rollout_share=0, price_per_input_token=Decimal("0.00001"), price_per_output_token=Decimal("0.00003"),
    )


def snapshot(draft: Draft) -> tuple:
    draft.refresh_from_db()
    return (draft.status, draft.status_reason, draft.current_revision_id, draft.status_changed_at,
            list(draft.revisions.values_list("pk", "content_hash")))


@pytest.mark.django_db
def test_a_shadow_version_writes_the_same_sections_with_provenance_and_the_draft_is_untouched(
        world, model_at, monkeypatch):
    challenger = shadow_version(model_at.base_url)
    draft = file_brief(world)
    drive_pipeline(draft)
    before = snapshot(draft)
    assert before[0] == Draft.Status.IN_REVIEW
    writer = AgentRun.objects.get(draft=draft, kind=Kind.WRITE)
    run = AgentRun.objects.get(draft=draft, kind=Kind.SHADOW)
    assert (run.status, run.model_version, run.prompt_version) == (Status.QUEUED, challenger, writer.prompt_version)
    assert run.idempotency_key == f"draft:{draft.pk}:shadow:write:{writer.pk}:version:{challenger.pk}"

    pushed = []
    monkeypatch.setattr("agents.pipeline.kinds.push_draft_event", lambda *a, **k: pushed.append(a))
    monkeypatch.setattr("agents.pipeline.writer.push_draft_event", lambda *a, **k: pushed.append(a))
    monkeypatch.setattr("editorial.realtime.push_draft_event", lambda *a, **k: pushed.append(a))
    requests_before = len(model_at.requests)
    run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED and run.error == ""
    sections = list(run.sections.order_by("index"))
    assert [s.heading for s in sections] == ["Part 1", "Part 2"] and all(s.done and s.text.startswith("w") for s in sections)
    assert run.tokens_out == 24 and run.tokens_in > 0
    assert run.cost == Decimal(run.tokens_in) * Decimal("0.00001") + Decimal(run.tokens_out) * Decimal("0.00003")
    assert run.latency_ms > 0 and run.ttft_ms is not None and run.model_name == "test-model"
    assert len(run.prompt_hash) == 64 and run.sources == writer.sources
    # Same prompts as the writer, rendered for a chat model: the system text as a system message.
    sent = model_at.requests[requests_before:]
    assert len(sent) == 2 and all("messages" in r for r in sent)
    writer_prompts = [r["prompt"] for r in model_at.requests[:requests_before] if "prompt" in r]
    assert sent[0]["messages"][0] == {"role": "system", "content": "You write for Blog."}
    assert writer_prompts[0] == "You write for Blog.\n\n" + sent[0]["messages"][1]["content"]
    # The draft did not move and nobody watching it heard of the shadow.
    assert snapshot(draft) == before and pushed == []
    assert AuditEvent.objects.filter(action="agents.run.shadow.succeed", object_id=str(run.pk)).exists()
    # Delivered twice, done once; started twice, created once.
    assert run_execute(run_id=run.pk) is None
    assert shadow.shadow_runs_start(write_run=writer) == [run]
    assert AgentRun.objects.filter(kind=Kind.SHADOW).count() == 1


@pytest.mark.django_db
def test_retired_and_active_versions_write_no_shadow(world, model_at):
    ModelVersion.objects.create(name="Retired", base_url=model_at.base_url, model="x",
                                status=ModelVersion.Status.RETIRED, rollout_share=0)
    draft = file_brief(world)
    drive_pipeline(draft)
    assert not AgentRun.objects.filter(kind=Kind.SHADOW).exists()


@pytest.mark.django_db
def test_a_failing_shadow_is_recorded_on_the_shadow_only(world, model_at, settings):
    settings.AIOS_CALL_RETRIES = 0  # a shadow's call retries in place like any call; here, straight to Celery
    shadow_version(model_at.base_url)
    draft = file_brief(world)
    drive_pipeline(draft)
    before = snapshot(draft)
    run = AgentRun.objects.get(draft=draft, kind=Kind.SHADOW)
    model_at.fail_next(1, status=503, body="overloaded")
    with pytest.raises(TransientRunError):
        run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Status.QUEUED and "503" in run.error and "retrying" in run.error
    model_at.fail_next(1, status=400, body="model not found")
    run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Status.FAILED and "400" in run.error
    assert snapshot(draft) == before
    assert AuditEvent.objects.filter(action="agents.run.shadow.fail", object_id=str(run.pk)).exists()


@pytest.mark.django_db
def test_a_shadow_spends_the_brands_budget_and_a_spent_cap_stops_only_the_shadow(world, model_at):
    from agents.models import Budget, SpendDay

    shadow_version(model_at.base_url)
    draft = file_brief(world)
    drive_pipeline(draft)
    first = AgentRun.objects.get(draft=draft, kind=Kind.SHADOW)
    run_execute(run_id=first.pk)
    first.refresh_from_db()
    day = SpendDay.objects.get(brand=world.brand)
    own = sum(r.cost for r in AgentRun.objects.filter(draft=draft).exclude(kind=Kind.SHADOW))
    assert first.status == Status.SUCCEEDED and first.cost > 0 and first.reserved_cost == 0
    assert day.spent == own + first.cost and day.reserved == 0  # booked like any call, nothing left held

    again = file_brief(world)
    drive_pipeline(again)
    before = snapshot(again)
    spent = SpendDay.objects.get(brand=world.brand).spent
    Budget.objects.create(brand=world.brand, daily_cap=spent)  # today's cap is now spent
    second = AgentRun.objects.get(draft=again, kind=Kind.SHADOW)
    run_execute(run_id=second.pk)
    second.refresh_from_db()
    assert second.status == Status.FAILED and "daily budget" in second.error
    assert snapshot(again) == before
    assert SpendDay.objects.get(brand=world.brand).spent == spent


@pytest.mark.django_db
def test_a_shadow_that_cannot_even_start_does_not_stop_the_draft(world, model_at, monkeypatch):
    shadow_version(model_at.base_url)

    def broken(**kwargs):
        raise RuntimeError("shadow bookkeeping broke")

    monkeypatch.setattr(shadow, "shadow_key", broken)
    draft = file_brief(world)
    drive_pipeline(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW and draft.current_revision is not None
    assert not AgentRun.objects.filter(kind=Kind.SHADOW).exists()


# --- the desk page ------------------------------------------------------------------------------------

def _shadowed_draft(world, model_at) -> tuple[Draft, AgentRun]:
    shadow_version(model_at.base_url)
    draft = file_brief(world)
    drive_pipeline(draft)
    run = AgentRun.objects.get(draft=draft, kind=Kind.SHADOW)
    run_execute(run_id=run.pk)
    run.refresh_from_db()
    draft.refresh_from_db()
    return draft, run


@pytest.mark.django_db
def test_the_desk_compares_a_shadow_with_the_generated_revision(world, model_at):
    draft, run = _shadowed_draft(world, model_at)
    client = Client()
    client.force_login(world.editor)
    page = client.get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert "Shadow outputs (1)" in page and reverse("agents:shadow-list", args=[draft.pk]) in page
    assert "Shadow write" not in page  # not among the draft's own runs
    listing = client.get(reverse("agents:shadow-list", args=[draft.pk])).content.decode()
    assert "Chat challenger" in listing and reverse("agents:shadow-compare", args=[draft.pk, run.pk]) in listing
    response = client.get(reverse("agents:shadow-compare", args=[draft.pk, run.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    writer = AgentRun.objects.get(draft=draft, kind=Kind.WRITE)
    # Figures side by side: the writer's and the shadow's.
    for figure in (f"<td>{writer.tokens_out}</td><td>{run.tokens_out}</td>", budgets.money(run.cost),
                   f"{run.latency_ms:.0f} ms", "Settings model", "Chat challenger", "r1"):
        assert figure in html, figure
    # The word diff: the draft's words removed, the shadow's added (the fake server's tokens are unique).
    shadow_word = run.sections.first().text.split()[0]
    draft_word = draft.current_revision.content.split("\n\n")[1].split()[0]
    assert f"<ins>{shadow_word}" in html and f"<del>{draft_word}" in html
    side = client.get(reverse("agents:shadow-compare", args=[draft.pk, run.pk]), {"view": "side"}).content.decode()
    assert 'class="diff side"' in side


@pytest.mark.django_db
def test_only_people_who_may_view_the_draft_see_its_shadows(world, model_at):
    draft, run = _shadowed_draft(world, model_at)
    outsider = Client()
    outsider.force_login(world.outsider)
    for name, args in (("agents:shadow-list", [draft.pk]), ("agents:shadow-compare", [draft.pk, run.pk])):
        assert outsider.get(reverse(name, args=args)).status_code == 404
    editor = Client()
    editor.force_login(world.editor)
    assert editor.post(reverse("agents:shadow-compare", args=[draft.pk, run.pk])).status_code == 405
    other = file_brief(world, title="Another")
    assert editor.get(reverse("agents:shadow-compare", args=[other.pk, run.pk])).status_code == 404
    writer = AgentRun.objects.get(draft=draft, kind=Kind.WRITE)
    assert editor.get(reverse("agents:shadow-compare", args=[draft.pk, writer.pk])).status_code == 404
    anonymous = Client().get(reverse("agents:shadow-list", args=[draft.pk]))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


# --- on the real stack ----------------------------------------------------------------------------------

def _wait(predicate, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("timed out")


@pytest.mark.slow
@pytest.mark.e2e
def test_shadows_run_beside_the_real_pipeline_and_a_failing_one_is_harmless(live_stack, transactional_db):
    from websockets.sync.client import connect

    world = build_world()
    shadow_version(live_stack.llm.base_url, name="Good shadow")
    shadow_version("http://127.0.0.1:9/v1", name="Dead shadow", mode="completion")
    rita = live_stack.client("rita")
    form = rita.get("/briefs/new/")
    rita.post("/briefs/new/", data={
        "csrfmiddlewaretoken": csrf_token(form.text), "brand": world.brand.pk, "title": "Shadowed roast",
        "goal": "Announce it", "audience": "regulars", "channel": "blog", "tone": "warm", "risk": "low",
        "template": world.template.pk,
    })
    draft = Draft.objects.get()
    events = []
    ws_url = live_stack.url.replace("http://", "ws://") + f"/ws/drafts/{draft.pk}/"
    with connect(ws_url, origin=live_stack.url,
                 additional_headers={"Cookie": f"sessionid={rita.cookies['sessionid']}"}) as ws:
        deadline = time.monotonic() + 90
        while Draft.objects.get(pk=draft.pk).status == Draft.Status.GENERATING and time.monotonic() < deadline:
            try:
                events.append(json.loads(ws.recv(timeout=1)))
            except TimeoutError:
                continue
        # Shadows finish after the draft (the dead one retries); keep listening while they do.
        _wait(lambda: not AgentRun.objects.filter(kind=Kind.SHADOW).exclude(
            status__in=[Status.SUCCEEDED, Status.FAILED]).exists() and
            AgentRun.objects.filter(kind=Kind.SHADOW).count() == 2, timeout=60)
        try:
            while True:
                events.append(json.loads(ws.recv(timeout=0.5)))
        except TimeoutError:
            pass
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW and draft.revisions.count() == 1
    good = AgentRun.objects.get(kind=Kind.SHADOW, model_version__name="Good shadow")
    dead = AgentRun.objects.get(kind=Kind.SHADOW, model_version__name="Dead shadow")
    assert good.status == Status.SUCCEEDED and RunSection.objects.filter(run=good, done=True).count() == 2
    assert dead.status == Status.FAILED and dead.attempt_count == 3 and "Could not reach" in dead.error
    shadow_runs = {good.pk, dead.pk}
    assert not [e for e in events if e.get("run") in shadow_runs or e.get("step") == "shadow"]
    assert any(e.get("kind") == "status" and e.get("status") == "in_review" for e in events)

    eddie = live_stack.client("eddie")
    page = eddie.get(f"/drafts/{draft.pk}/").text
    assert "Shadow outputs (2)" in page and "Generation stopped" not in page
    compare = eddie.get(f"/drafts/{draft.pk}/shadow/{good.pk}/").text
    assert "Shadow output: Good shadow" in compare and "<ins>" in compare and "<del>" in compare
    failed = eddie.get(f"/drafts/{draft.pk}/shadow/{dead.pk}/").text
    assert "The shadow run failed" in failed and "This does not affect the draft." in failed


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.browser
def test_an_editor_opens_a_shadow_output_from_the_draft_page_with_the_keyboard(live_stack, page, monkeypatch):
    from playwright.sync_api import expect

    from tests.factories import PASSWORD

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # our ORM calls from Playwright's thread
    world = build_world()
    shadow_version(live_stack.llm.base_url, name="Chat challenger")
    from editorial.briefs import brief_create

    draft = brief_create(user=world.requester, brand=world.brand, title="Roast, shadowed", goal="Announce it",
                         audience="regulars", channel="blog", tone="warm", risk="low", template=world.template)
    _wait(lambda: Draft.objects.get(pk=draft.pk).status == Draft.Status.IN_REVIEW
          and AgentRun.objects.filter(kind=Kind.SHADOW, status=Status.SUCCEEDED).exists(), timeout=90)
    page.goto(live_stack.url + "/login/")
    page.get_by_label("Username").fill("eddie")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_stack.url + f"/drafts/{draft.pk}/")
    page.wait_for_load_state("networkidle")
    link = page.get_by_role("link", name="Shadow outputs (1)")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Shadow outputs")).to_be_visible()
    page.get_by_role("link", name="Compare with the draft").focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Shadow output: Chat challenger")).to_be_visible()
    figures = page.locator("table.compare-figures")
    expect(figures.get_by_role("row", name="Model version")).to_contain_text("Settings model")
    expect(figures.get_by_role("row", name="Model version")).to_contain_text("Chat challenger")
    expect(page.locator(".diff.inline ins").first).to_be_visible()
    expect(page.locator(".diff.inline del").first).to_be_visible()
    page.get_by_role("link", name="Side by side").click()
    page.wait_for_load_state()
    expect(page.locator(".diff.side")).to_be_visible()
