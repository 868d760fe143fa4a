"""Model versions in the admin: configuration checks, the connection test, permissioned and audited
state changes (activate / shadow / retire / roll back), and rollback impact with send-back."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from guardian.shortcuts import assign_perm

from agents.modelops import rollback, versions
from agents.models import ModelVersion
from editorial.models import Draft, Revision
from governance.gates import gate_states
from governance.models import AuditEvent
from governance.signoffs import signoff_record
from tests.factories import UserFactory
from tests.helpers import draft_in_review, file_brief

pytestmark = pytest.mark.django_db
Status = ModelVersion.Status


def staff(username: str, *perms: str):
    user = UserFactory(username=username, is_staff=True)
    for dotted in perms:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ops(world):
    """An admin who may edit model versions but holds no activation permission yet."""
    return staff("mira", "agents.view_modelversion", "agents.change_modelversion", "agents.add_modelversion")


def new_version(name: str, **kw) -> ModelVersion:
    defaults = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "status": Status.RETIRED, "rollout_share": 0}
    return ModelVersion.objects.create(name=name, **{**defaults, **kw})


def state_url(version: ModelVersion, action: str) -> str:
    return reverse("admin:agents_modelversion_state", args=[version.pk, action])


def form_data(version: ModelVersion, **overrides) -> dict:
    data = {
        "name": version.name, "provider": "openai", "base_url": version.base_url, "model": version.model,
        "mode": version.mode, "api_key_env": version.api_key_env, "parameters": '{"temperature": 0.2}',
        "context_window": 8192, "price_per_input_token": "0.000001", "price_per_output_token": "0.000002",
        "max_run_tokens": "", "max_run_seconds": "", "fallback": "",
    }
    if version.use_settings:
        data["use_settings"] = "on"
    return {**data, **overrides}


# --- configuration ---------------------------------------------------------------------------------

def test_a_new_version_starts_retired_and_its_creation_is_audited(ops):
    blank = ModelVersion(name="Llama 3 8B", base_url="http://llm.internal/v1", model="llama3")
    response = client_for(ops).post(reverse("admin:agents_modelversion_add"), form_data(blank, parameters='{"temperature": 0.7, "max_tokens": 300, "stop": ["##"]}'))
    assert response.status_code == 302, response.content.decode()[:2000]
    version = ModelVersion.objects.get(name="Llama 3 8B")
    assert (version.status, version.rollout_share) == (Status.RETIRED, 0)
    assert version.parameters == {"temperature": 0.7, "max_tokens": 300, "stop": ["##"]}
    event = AuditEvent.objects.get(action="agents.modelversion.create", object_id=str(version.pk))
    assert event.actor_user == ops and event.data["changes"]["model"]["after"] == "llama3"


@pytest.mark.parametrize(("parameters", "message"), [
    ("[1, 2]", "must be a JSON object"),
    ('{"temprature": 0.5}', "Unknown parameter “temprature”"),
    ('{"temperature": "hot"}', "“temperature” must be a number"),
    ('{"temperature": 3}', "“temperature” must be between 0 and 2"),
    ('{"max_tokens": 2.5}', "“max_tokens” must be an integer"),
    ('{"top_p": true}', "“top_p” must be a number"),
    ('{"stop": [1]}', "“stop” must be a string or a list"),
    ("{not json", "Enter a valid JSON"),
])
def test_parameters_must_be_a_json_object_with_known_typed_keys(ops, world, parameters, message):
    version = new_version("Candidate", parameters={"temperature": 0.1})
    response = client_for(ops).post(reverse("admin:agents_modelversion_change", args=[version.pk]),
                                    form_data(version, parameters=parameters))
    assert response.status_code == 200
    assert message in response.content.decode()
    version.refresh_from_db()
    assert version.parameters == {"temperature": 0.1}
    assert not AuditEvent.objects.filter(action="agents.modelversion.change").exists()


def test_a_fallback_to_itself_or_through_a_cycle_is_refused(ops, world):
    a, b, c = new_version("A"), new_version("B"), new_version("C")
    ModelVersion.objects.filter(pk=b.pk).update(fallback=c)
    ModelVersion.objects.filter(pk=c.pk).update(fallback=a)
    client = client_for(ops)
    url = reverse("admin:agents_modelversion_change", args=[a.pk])
    itself = client.post(url, form_data(a, fallback=a.pk))
    assert "cannot fall back to itself" in itself.content.decode()
    cycle = client.post(url, form_data(a, fallback=b.pk))
    assert "This fallback makes a cycle: A → B → C → A." in cycle.content.decode()
    a.refresh_from_db()
    assert a.fallback_id is None
    ok = client.post(url, form_data(a, fallback=world.model_version.pk))
    assert ok.status_code == 302
    a.refresh_from_db()
    assert a.fallback_id == world.model_version.pk
    change = AuditEvent.objects.get(action="agents.modelversion.change", object_id=str(a.pk))
    assert change.data["changes"]["fallback"] == {"before": None, "after": {"id": world.model_version.pk,
                                                                           "name": world.model_version.name}}


def test_state_fields_cannot_be_changed_through_the_change_form(ops, world):
    version = new_version("Sneaky")
    client_for(ops).post(reverse("admin:agents_modelversion_change", args=[version.pk]),
                         form_data(version, status="active", rollout_share=100))
    version.refresh_from_db()
    assert (version.status, version.rollout_share) == (Status.RETIRED, 0)


# --- connection test --------------------------------------------------------------------------------

def test_the_connection_test_reports_latency_and_the_models_answer_and_saves_nothing(ops, world, llm):
    version = new_version("Fake server", base_url=llm.base_url, model="test-model", mode="chat")
    before = AuditEvent.objects.count()
    client = client_for(ops)
    page = client.get(reverse("admin:agents_modelversion_test", args=[version.pk]))
    assert page.status_code == 200 and "Run the test" in page.content.decode() and not llm.requests
    response = client.post(reverse("admin:agents_modelversion_test", args=[version.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "✓ Fake server answered" in html and "reachable" in html and " ms" in html
    assert "w" in html.split("Answer")[1][:200]  # the fake server's tokens are w0 w1 …
    assert llm.requests[-1]["max_tokens"] == 8 and "messages" in llm.requests[-1]
    assert AuditEvent.objects.count() == before
    assert ModelVersion.objects.get(pk=version.pk).breaker_failures == 0


def test_the_connection_test_shows_the_error_when_the_server_fails(ops, world, llm):
    version = new_version("Broken", base_url=llm.base_url, model="test-model", mode="completion")
    llm.fail_next(1, status=401, body="bad key")
    html = client_for(ops).post(reverse("admin:agents_modelversion_test", args=[version.pk])).content.decode()
    assert "✗ Broken: the test failed" in html and "401" in html


def test_the_connection_test_of_an_unreachable_server_says_so(ops, world):
    version = new_version("Nowhere", base_url="http://127.0.0.1:9/v1", model="x")
    report = versions.modelversion_test_connection(version=version, timeout=2)
    assert not report.ok and not report.ping_ok and "Could not reach the model server" in report.error


def test_the_list_action_tests_several_versions(ops, world, llm):
    good = new_version("Good", base_url=llm.base_url, model="test-model")
    bad = new_version("Bad", base_url="http://127.0.0.1:9/v1", model="x")
    response = client_for(ops).post(reverse("admin:agents_modelversion_changelist"), {
        "action": "test_connection_action", "_selected_action": [good.pk, bad.pk]})
    html = response.content.decode()
    assert "✓ Good answered" in html and "✗ Bad: the test failed" in html


# --- state changes ----------------------------------------------------------------------------------

def test_activation_needs_the_activate_permission_on_that_version(ops, world):
    candidate = new_version("Candidate")
    client = client_for(ops)
    page = client.get(state_url(candidate, "activate"))
    assert page.status_code == 200 and "You lack the permission" in page.content.decode()
    refused = client.post(state_url(candidate, "activate"), {
        "rollout_share": 20, f"status_{world.model_version.pk}": "active", f"share_{world.model_version.pk}": 80})
    assert refused.status_code == 403
    candidate.refresh_from_db()
    world.model_version.refresh_from_db()
    assert candidate.status == Status.RETIRED and world.model_version.rollout_share == 100
    assert not AuditEvent.objects.filter(action__startswith="agents.modelversion.activate").exists()

    # The permission on the candidate alone is not enough when the step also changes the old version.
    assign_perm("agents.activate_modelversion", ops, candidate)
    still = client.post(state_url(candidate, "activate"), {
        "rollout_share": 20, f"status_{world.model_version.pk}": "active", f"share_{world.model_version.pk}": 80})
    assert still.status_code == 403 and "Settings model" in still.content.decode()

    assign_perm("agents.activate_modelversion", ops, world.model_version)
    done = client.post(state_url(candidate, "activate"), {
        "rollout_share": 20, "reason": "canary", f"status_{world.model_version.pk}": "active",
        f"share_{world.model_version.pk}": 80})
    assert done.status_code == 302
    candidate.refresh_from_db()
    world.model_version.refresh_from_db()
    assert (candidate.status, candidate.rollout_share, world.model_version.rollout_share) == ("active", 20, 80)
    event = AuditEvent.objects.get(action="agents.modelversion.activate")
    assert event.actor_user == ops and event.data["reason"] == "canary"
    assert event.data["versions"][str(candidate.pk)] == {
        "name": "Candidate", "before": {"status": "retired", "rollout_share": 0},
        "after": {"status": "active", "rollout_share": 20}}
    assert event.data["versions"][str(world.model_version.pk)]["before"]["rollout_share"] == 100


def test_a_global_activate_permission_also_allows(world):
    boss = staff("boss", "agents.view_modelversion", "agents.change_modelversion", "agents.activate_modelversion")
    candidate = new_version("Shadowed")
    response = client_for(boss).post(state_url(candidate, "shadow"), {"reason": "compare quality"})
    assert response.status_code == 302
    candidate.refresh_from_db()
    assert candidate.status == Status.SHADOW
    assert AuditEvent.objects.filter(action="agents.modelversion.shadow", actor_user=boss).exists()


def test_active_shares_over_100_percent_are_refused_and_change_nothing(ops, world):
    candidate = new_version("Greedy")
    assign_perm("agents.activate_modelversion", ops, candidate)
    assign_perm("agents.activate_modelversion", ops, world.model_version)
    response = client_for(ops).post(state_url(candidate, "activate"), {
        "rollout_share": 30, f"status_{world.model_version.pk}": "active", f"share_{world.model_version.pk}": 100})
    assert response.status_code == 400
    assert "would add up to 130%" in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.status == Status.RETIRED
    bad_share = client_for(ops).post(state_url(candidate, "activate"), {
        "rollout_share": 101, f"status_{world.model_version.pk}": "retired", f"share_{world.model_version.pk}": 0})
    assert bad_share.status_code == 400
    assert not AuditEvent.objects.filter(action__startswith="agents.modelversion.").exists()


def test_the_last_active_version_cannot_be_retired_or_shadowed(ops, world):
    assign_perm("agents.activate_modelversion", ops, world.model_version)
    for action in ("retire", "shadow"):
        response = client_for(ops).post(state_url(world.model_version, action), {"reason": ""})
        assert response.status_code == 400
        assert "At least one model version must stay active" in response.content.decode()
    world.model_version.refresh_from_db()
    assert world.model_version.status == Status.ACTIVE


def test_roll_back_restores_every_version_touched_by_the_last_change(ops, world):
    old, new = world.model_version, new_version("Next")
    for v in (old, new):
        assign_perm("agents.activate_modelversion", ops, v)
    client = client_for(ops)
    client.post(state_url(new, "activate"), {"rollout_share": 100, f"status_{old.pk}": "retired", f"share_{old.pk}": 0})
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status, new.rollout_share) == ("retired", "active", 100)

    page = client.get(state_url(new, "rollback")).content.decode()
    assert "agents.modelversion.activate" in page and "Settings model" in page
    response = client.post(state_url(new, "rollback"), {"reason": "quality dropped"})
    assert response.status_code == 302
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, old.rollout_share) == ("active", 100) and (new.status, new.rollout_share) == ("retired", 0)
    event = AuditEvent.objects.filter(action="agents.modelversion.rollback").get()
    activation = AuditEvent.objects.get(action="agents.modelversion.activate")
    assert event.data["rolled_back_event"] == activation.pk and event.data["reason"] == "quality dropped"
    assert event.data["versions"][str(new.pk)]["before"] == {"status": "active", "rollout_share": 100}

    # The roll back is itself a recorded change: rolling back again redoes the activation.
    redo = client.post(state_url(old, "rollback"), {})
    assert redo.status_code == 302, redo.content.decode()[-3000:]
    new.refresh_from_db()
    assert new.status == "active"


def test_roll_back_is_refused_when_a_version_changed_again_since(ops, world):
    a, b = new_version("A"), new_version("B")
    for v in (a, b, world.model_version):
        assign_perm("agents.activate_modelversion", ops, v)
    versions.modelversion_shadow(user=ops, version=a)
    versions.modelversion_shadow(user=ops, version=b)
    # Change A outside the last event that involved B … then ask to roll back A's event.
    ModelVersion.objects.filter(pk=a.pk).update(status=Status.RETIRED)
    response = client_for(ops).post(state_url(a, "rollback"), {})
    assert response.status_code == 400 and "changed again since" in response.content.decode()


def test_the_change_page_offers_the_state_actions_and_shows_the_history(ops, world):
    assign_perm("agents.activate_modelversion", ops, world.model_version)
    candidate = new_version("Seen")
    assign_perm("agents.activate_modelversion", ops, candidate)
    versions.modelversion_shadow(user=ops, version=candidate, reason="try it")
    html = client_for(ops).get(reverse("admin:agents_modelversion_change", args=[candidate.pk])).content.decode()
    for label in ("Test connection", "Activate…", "Retire…", "Roll back…", "What it produced", "Object permissions"):
        assert label in html
    assert "State history" in html and "try it" in html


# --- rollback impact and send back to review --------------------------------------------------------

def _approve(world, draft: Draft) -> None:
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    draft.refresh_from_db()


def test_the_impact_list_shows_what_a_version_produced_and_send_back_needs_fresh_signoff(ops, world):
    # Approvals of this gate would otherwise survive a new revision.
    world.gates["editorial"].reapprove_on_change = False
    world.gates["editorial"].save()
    mv = world.model_version
    in_review = draft_in_review(world)
    approved = draft_in_review(world)
    _approve(world, approved)
    published = draft_in_review(world)
    _approve(world, published)
    Draft.objects.filter(pk=published.pk).update(status=Draft.Status.PUBLISHED,
                                                 published_revision=published.current_revision)
    generating = file_brief(world, title="Still writing")
    rejected = draft_in_review(world)
    Draft.objects.filter(pk=rejected.pk).update(status=Draft.Status.REJECTED)
    other = new_version("Other")
    untouched = draft_in_review(world)
    Draft.objects.filter(pk=untouched.pk).update(model_version=other)
    assert approved.status == Draft.Status.APPROVED

    client = client_for(ops)
    impact = client.get(reverse("admin:agents_modelversion_impact", args=[mv.pk]))
    html = impact.content.decode()
    assert impact.status_code == 200
    for d in (in_review, approved, published, generating, rejected):
        assert f"#{d.pk}<" in html
    assert f"#{untouched.pk}<" not in html
    assert "6 drafts" not in html and "5 drafts" in html and "1 of them published" in html

    confirm_url = reverse("admin:agents_modelversion_send_back", args=[mv.pk])
    confirm = client.get(confirm_url).content.decode()
    assert "Published → In review" in confirm and "Approved → In review" in confirm
    assert "still generating" in confirm.lower() and "rejected and will not be published" in confirm
    assert "stay published at the CMS" in confirm
    assert "disabled" in confirm.split('value="Send 3 drafts back to review"')[1][:30]  # no permission yet

    refused = client.post(confirm_url, {"reason": ""})
    assert refused.status_code == 403
    assert Draft.objects.get(pk=approved.pk).status == Draft.Status.APPROVED

    assign_perm("agents.activate_modelversion", ops, mv)
    done = client.post(confirm_url, {"reason": "hallucinated prices"})
    html = done.content.decode()
    assert done.status_code == 200 and "Sent back: 3 · skipped: 2" in html
    for d in (in_review, approved, published):
        d.refresh_from_db()
        assert d.status == Draft.Status.IN_REVIEW
        assert "produced by model version “Settings model”, which was rolled back. hallucinated prices" in d.status_reason
        reset = d.current_revision
        assert reset.provenance["review_reset"]["model_version"] == mv.pk and reset.author_user == ops
        assert reset.content == Revision.objects.get(pk=reset.parent_id).content
        states = {s.gate.slug: s.status for s in gate_states(d)}
        assert states["editorial"] == "pending", "an earlier approval must not count after a send-back"
        event = AuditEvent.objects.get(action="agents.rollback.send_back", object_id=str(d.pk))
        assert event.actor_user == ops and event.data["status"][1] == "in_review"
    assert published.published_revision_id is not None  # still live at the CMS until republished
    assert AuditEvent.objects.get(action="agents.rollback.send_back", object_id=str(published.pk)).data["still_published"]
    for d, status in ((generating, Draft.Status.GENERATING), (rejected, Draft.Status.REJECTED)):
        d.refresh_from_db()
        assert d.status == status and not d.revisions.filter(provenance__has_key="review_reset").exists()
    assert "Still writing" in html.split("Skipped")[1]

    # The editor must sign again; that approval counts.
    _approve(world, approved)
    assert approved.status == Draft.Status.APPROVED


def test_impact_follows_revisions_written_by_runs_of_the_version(ops, world):
    from agents.models import AgentRun
    from editorial.revisions import revision_create

    other = new_version("Regenerator", price_per_output_token=Decimal(0))
    draft = draft_in_review(world)
    Draft.objects.filter(pk=draft.pk).update(model_version=world.model_version)
    run = AgentRun.objects.create(draft=draft, kind=AgentRun.Kind.REGENERATE, status=AgentRun.Status.SUCCEEDED,
                                  idempotency_key="t:regen", model_version=other)
    revision_create(draft=draft, content="## Part 1\n\nRegenerated.", author_run=run)
    rows = rollback.rollback_impact(model_version=other)
    assert [r.draft.pk for r in rows] == [draft.pk] and rows[0].via == ["wrote r2"]


def test_outsiders_and_non_staff_cannot_open_the_pages(world):
    version = world.model_version
    eddie = client_for(world.editor)  # not staff
    for url in (reverse("admin:agents_modelversion_impact", args=[version.pk]), state_url(version, "activate"),
                reverse("admin:agents_modelversion_test", args=[version.pk])):
        response = eddie.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    nobody = client_for(staff("staffonly"))
    assert nobody.get(reverse("admin:agents_modelversion_impact", args=[version.pk])).status_code == 403
    assert nobody.get(state_url(version, "explode")).status_code == 404


def test_the_queue_agrees_with_the_gates_after_a_send_back(world):
    from editorial.queue.gates import gate_rules_for_user, open_gates_for

    world.gates["editorial"].reapprove_on_change = False
    world.gates["editorial"].save()
    draft = draft_in_review(world, risk="medium")
    _approve(world, draft)
    rules = gate_rules_for_user(world.editor)
    assert [g.name for g in open_gates_for([draft.pk], rules)[draft.pk]] == ["Brand"]
    boss = staff("boss2", "agents.activate_modelversion")
    result = rollback.drafts_send_back(user=boss, model_version=world.model_version)
    assert [d.pk for d, _ in result.moved] == [draft.pk]
    draft.refresh_from_db()
    pending = [s.gate.pk for s in gate_states(draft) if s.status == "pending"]
    assert [g.id for g in open_gates_for([draft.pk], rules)[draft.pk]] == pending
    assert pending == [world.gates["editorial"].pk]
