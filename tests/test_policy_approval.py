"""Approvals by policy: a workflow may approve low-risk drafts with no finding above info and a clean
quality check; they are signed through the sign-off path (audited "approved by policy <name>") and
published without a person (by the task tests/test_policy_publish.py covers), unless the brand switched
approvals by policy off."""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from editorial.models import Draft
from governance.models import AuditEvent, Finding, SignOff
from governance.provenance import manifest_for
from governance.publishing.policy import draft_publish_by_policy
from governance.signoffs import signoffs_by_policy
from tests.helpers import draft_in_review, drive, file_brief

POLICY = "“Standard review” low-risk auto-approval"


@pytest.fixture
def policy_on(world):
    world.workflow.policy_approval = True
    world.workflow.save()
    return world


def test_a_low_risk_draft_is_approved_by_policy_audited_and_published_without_a_person(policy_on, model_at):
    draft = file_brief(policy_on)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED, draft.status_reason
    assert draft_publish_by_policy(draft_id=draft.pk) == "published"  # the task enqueued on commit
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED
    signoff = SignOff.objects.get(draft=draft)
    assert signoff.policy == POLICY and signoff.user is None and signoff.decision == "approve"
    approve = AuditEvent.objects.get(action="governance.gate.approve")
    assert approve.actor_label == f"approved by policy {POLICY}" and approve.actor_user is None
    assert approve.data["policy"] == POLICY
    publish = AuditEvent.objects.get(action="governance.draft.publish")
    assert publish.actor_label == f"published by policy {POLICY}"
    assert draft.deliveries.count() == 1


def test_approval_by_policy_is_refused_when_the_brand_switched_it_off(policy_on, model_at):
    policy_on.brand.policy_approvals = False
    policy_on.brand.save()
    draft = file_brief(policy_on)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW  # waits for a person
    assert not SignOff.objects.exists()
    with pytest.raises(PermissionDenied, match="switched off for Northwind"):
        signoffs_by_policy(draft=draft, quality_clean=True)
    assert not SignOff.objects.exists() and not AuditEvent.objects.filter(action="governance.gate.approve").exists()


def test_a_finding_above_info_or_a_medium_risk_or_an_unclean_check_needs_a_person(policy_on):
    draft = draft_in_review(policy_on)
    Finding.objects.create(revision=draft.current_revision, category="banned_term", severity="warning",
                           message="“guaranteed”")
    with pytest.raises(PermissionDenied, match="findings above info"):
        signoffs_by_policy(draft=draft, quality_clean=True)
    medium = draft_in_review(policy_on, risk="medium")
    with pytest.raises(PermissionDenied, match="risk is medium"):
        signoffs_by_policy(draft=medium, quality_clean=True)
    clean = draft_in_review(policy_on)
    with pytest.raises(PermissionDenied, match="quality check was not clean"):
        signoffs_by_policy(draft=clean, quality_clean=False)
    assert not SignOff.objects.exists()


def test_the_manifest_and_the_api_say_approved_by_policy(policy_on, client):
    draft = draft_in_review(policy_on)
    signoffs_by_policy(draft=draft, quality_clean=True)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    manifest = manifest_for(draft.current_revision)
    assert [s["approved_by_policy"] for s in manifest["signoffs"]] == [POLICY]
    assert client.login(username=policy_on.editor.username, password="pw")
    body = client.get(f"/api/v1/drafts/{draft.pk}/actions").json()
    assert POLICY in str(body)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert "approved by policy" in page and "Standard review" in page
