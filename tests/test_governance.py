from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from editorial.briefs import brief_create
from editorial.editing import draft_edit
from editorial.models import Draft
from governance.gates import gate_states
from governance.models import AuditEvent, Finding, Gate, ReviewLink, SignOff, Stage
from governance.signoffs import finding_override, review_link_create, review_link_decide, signoff_record
from governance.workflows import workflow_problems
from tests.factories import PASSWORD
from tests.helpers import draft_in_review


def sign(draft, world, gate, user, decision="approve", comment=""):
    draft.refresh_from_db()
    return signoff_record(draft=draft, gate=world.gates[gate], user=user, decision=decision,
                          revision_id=draft.current_revision_id, comment=comment)


def grant_override(user) -> None:
    user.user_permissions.add(Permission.objects.get(codename="override_finding"))


def refresh_user(user):
    return type(user).objects.get(pk=user.pk)  # permission caches live on the instance


# --- workflows ------------------------------------------------------------------------------

def test_a_stage_without_gates_or_a_gate_without_signers_is_a_workflow_that_can_never_complete(world):
    assert workflow_problems(world.workflow) == []
    Stage.objects.create(workflow=world.workflow, order=3, name="Final")
    world.gates["legal"].group.user_set.clear()
    problems = workflow_problems(world.workflow)
    assert any("Stage 3 “Final” has no gates" in p for p in problems)
    assert any("“legal reviewers”, which has no active members" in p for p in problems)
    with pytest.raises(ValidationError, match="can never complete"):
        brief_create(user=world.requester, brand=world.brand, title="t", goal="g", audience="a", channel="blog",
                     tone="warm", risk="low", template=world.template)
    assert not Draft.objects.exists()


def test_a_brief_with_no_workflow_for_its_channel_is_refused(world):
    world.workflow.channels = ["newsletter"]
    world.workflow.save()
    with pytest.raises(ValidationError, match="No review workflow covers"):
        brief_create(user=world.requester, brand=world.brand, title="t", goal="g", audience="a", channel="blog",
                     tone="warm", risk="low", template=world.template)


def test_a_gate_can_apply_because_of_finding_categories_and_says_so(world):
    privacy = Group.objects.create(name="privacy")
    privacy.user_set.add(world.legal)
    Gate.objects.create(stage=world.gates["brand"].stage, name="Privacy", slug="privacy", group=privacy,
                        min_risk="high", finding_categories=["banned_term"])
    clean = draft_in_review(world, content="All good.")
    flagged = draft_in_review(world, content="Results guaranteed.")
    Finding.objects.create(revision=flagged.current_revision, category="banned_term", severity="warning",
                           start=8, end=18, text="guaranteed", message="banned")
    assert "privacy" not in [s.gate.slug for s in gate_states(clean)]
    privacy_state = next(s for s in gate_states(flagged) if s.gate.slug == "privacy")
    assert privacy_state.reason == "findings of category banned_term"


def test_parallel_gates_in_one_stage_can_be_signed_in_any_order(world):
    draft = draft_in_review(world, risk="high")
    sign(draft, world, "editorial", world.editor)
    sign(draft, world, "legal", world.legal)  # legal before brand: same stage
    draft.refresh_from_db()
    assert draft.status == "in_review"
    sign(draft, world, "brand", world.brand_reviewer)
    draft.refresh_from_db()
    assert draft.status == "approved"


def test_an_edit_reopens_only_gates_marked_reapprove_on_change_and_shows_the_diff_since(world):
    Gate.objects.filter(pk=world.gates["brand"].pk).update(reapprove_on_change=False)
    draft = draft_in_review(world, risk="medium")
    signed_on = draft.current_revision
    sign(draft, world, "editorial", world.editor)
    sign(draft, world, "brand", world.brand_reviewer)
    draft.refresh_from_db()
    draft_edit(draft=draft, user=world.editor, content="A late fix.", base_revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    states = {s.gate.slug: s for s in gate_states(draft)}
    assert states["brand"].status == "approved"
    assert states["editorial"].status == "pending" and states["editorial"].reopened_from.revision == signed_on
    assert draft.status == "in_review"


# --- blocking findings and overrides -----------------------------------------------------------

def blocking_draft(world):
    draft = draft_in_review(world, content="Results guaranteed.")
    finding = Finding.objects.create(revision=draft.current_revision, category="banned_term", severity="blocking",
                                     start=8, end=18, text="guaranteed", message="banned term")
    return draft, finding


def test_a_blocking_finding_prevents_approval(world):
    draft, _ = blocking_draft(world)
    with pytest.raises(ValidationError, match="1 blocking finding must be fixed or overridden"):
        sign(draft, world, "editorial", world.editor)
    sign(draft, world, "editorial", world.editor, decision="request_changes", comment="Fix the claim")
    assert list(SignOff.objects.values_list("decision", flat=True)) == ["request_changes"]


def test_an_override_needs_the_permission_and_a_justification_and_is_audited(world):
    draft, finding = blocking_draft(world)
    with pytest.raises(PermissionDenied):
        finding_override(finding=finding, user=world.editor, justification="Our lawyers agreed.")
    grant_override(world.legal)
    legal = refresh_user(world.legal)
    with pytest.raises(ValidationError, match="justification"):
        finding_override(finding=finding, user=legal, justification="ok")
    finding_override(finding=finding, user=legal, justification="Guarantee is in the signed contract.")
    event = AuditEvent.objects.get(action="governance.finding.override")
    assert event.actor_user == legal and event.data["justification"] == "Guarantee is in the signed contract."
    sign(draft, world, "editorial", world.editor)
    draft.refresh_from_db()
    assert draft.status == "approved"


def test_an_outsider_with_the_override_permission_still_cannot_override_another_brands_finding(world):
    _, finding = blocking_draft(world)
    grant_override(world.outsider)
    with pytest.raises(PermissionDenied):
        finding_override(finding=finding, user=refresh_user(world.outsider), justification="Looks fine to me.")


# --- external review links ------------------------------------------------------------------

def test_an_outside_reviewer_approves_once_and_the_decision_is_audited_with_the_recipient(world):
    draft = draft_in_review(world, risk="high")
    sign(draft, world, "editorial", world.editor)
    sign(draft, world, "brand", world.brand_reviewer)
    link, token = review_link_create(draft=draft, gate=world.gates["legal"], user=world.legal,
                                     recipient="J. Doe, external counsel")
    assert link.token_hash != token and token not in str(ReviewLink.objects.values())
    signoff = review_link_decide(draft_id=draft.pk, token=token, decision="approve")
    assert signoff.user is None and signoff.external_recipient == "J. Doe, external counsel"
    draft.refresh_from_db()
    assert draft.status == "approved"
    event = AuditEvent.objects.get(action="governance.gate.approve", data__gate="legal")
    assert event.actor_label == "external: J. Doe, external counsel"
    with pytest.raises(ValidationError, match="already been used"):
        review_link_decide(draft_id=draft.pk, token=token, decision="approve")


def test_an_expired_link_is_refused(world):
    draft = draft_in_review(world)
    link, token = review_link_create(draft=draft, gate=world.gates["editorial"], user=world.editor, recipient="X")
    ReviewLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="expired"):
        review_link_decide(draft_id=draft.pk, token=token, decision="approve")
    assert not SignOff.objects.exists()


def test_a_link_used_for_another_item_is_refused(world):
    draft, other = draft_in_review(world), draft_in_review(world)
    _, token = review_link_create(draft=draft, gate=world.gates["editorial"], user=world.editor, recipient="X")
    with pytest.raises(ValidationError, match="not valid for this item"):
        review_link_decide(draft_id=other.pk, token=token, decision="approve")
    with pytest.raises(ValidationError, match="not valid"):
        review_link_decide(draft_id=draft.pk, token=token + "x", decision="approve")


def test_a_link_for_a_revision_that_changed_is_refused(world):
    draft = draft_in_review(world)
    _, token = review_link_create(draft=draft, gate=world.gates["editorial"], user=world.editor, recipient="X")
    draft_edit(draft=draft, user=world.editor, content="Changed.", base_revision_id=draft.current_revision_id)
    with pytest.raises(ValidationError, match="changed after this link was sent"):
        review_link_decide(draft_id=draft.pk, token=token, decision="approve")


def test_only_signers_of_the_gate_can_send_a_link(world):
    draft = draft_in_review(world, risk="high")
    with pytest.raises(PermissionDenied):
        review_link_create(draft=draft, gate=world.gates["legal"], user=world.editor, recipient="X")


def test_the_external_review_page_works_without_an_account(client, world):
    draft = draft_in_review(world)
    _, token = review_link_create(draft=draft, gate=world.gates["editorial"], user=world.editor, recipient="Ext")
    url = reverse("governance:external-review", args=[draft.pk, token])
    page = client.get(url)
    assert page.status_code == 200 and "Hello coffee lovers." in page.content.decode()
    refused = client.post(url, {"decision": "reject", "comment": ""})
    assert refused.status_code == 422 and "reason is required" in refused.content.decode()
    done = client.post(url, {"decision": "reject", "comment": "Not accurate."})
    assert "Your decision — <strong>Rejected</strong>" in done.content.decode()
    assert client.get(url).status_code == 410


# --- the desk ---------------------------------------------------------------------------------

def test_the_policy_check_page_evaluates_pasted_text_with_the_brands_rules(client, world):
    assert client.login(username="eddie", password=PASSWORD)
    response = client.post(reverse("governance:policy-check"),
                           {"brand": world.brand.pk, "channel": "product", "text": "Freshness guaranteed."})
    body = response.content.decode()
    assert "“guaranteed” is a banned term" in body and "requires this disclaimer" in body
    assert '<mark class="finding-mark sev-blocking"' in body


def test_the_policy_check_of_another_brands_revision_is_refused(client, world):
    draft = draft_in_review(world)
    assert client.login(username="otto", password=PASSWORD)
    assert client.get(reverse("governance:policy-check"), {"revision": draft.current_revision_id}).status_code == 404


def test_the_draft_page_highlights_findings_and_offers_override_only_to_permitted_users(client, world):
    draft, finding = blocking_draft(world)
    assert client.login(username="eddie", password=PASSWORD)
    page = client.get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert 'data-finding="0"' in page and "must be fixed or overridden" in page and "Override…" not in page
    assert "data-gate-approve" not in page
    grant_override(world.editor)
    page = client.get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert "Override…" in page
    response = client.post(reverse("governance:finding-override", args=[draft.pk, finding.pk]),
                           {"justification": "Approved by legal in writing."}, follow=True)
    assert "Override recorded" in response.content.decode() and "data-gate-approve" in response.content.decode()


def test_the_admin_refuses_to_activate_a_workflow_that_can_never_complete(admin_client, world):
    from governance.models import Workflow

    url = reverse("admin:governance_workflow_add")
    data = {"name": "Empty", "channels": "[]", "is_active": "on",
            "stages-TOTAL_FORMS": "0", "stages-INITIAL_FORMS": "0"}
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "could never complete" in response.content.decode()
    assert not Workflow.objects.filter(name="Empty").exists()
    data.pop("is_active")
    assert admin_client.post(url, data).status_code == 302  # inactive while being built is fine


def test_the_admin_refuses_a_gate_whose_group_is_empty(admin_client, world):
    empty = Group.objects.create(name="nobody")
    response = admin_client.post(reverse("admin:governance_gate_add"), {
        "stage": world.gates["brand"].stage.pk, "name": "Ghost", "slug": "ghost", "group": empty.pk,
        "kind": "hard", "min_risk": "low", "channels": "[]", "finding_categories": "[]"})
    assert response.status_code == 200 and "has no active members" in response.content.decode()
    assert not Gate.objects.filter(slug="ghost").exists()
