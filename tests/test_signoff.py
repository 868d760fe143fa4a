from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from editorial.editing import draft_edit
from editorial.models import Draft
from governance.gates import gate_states, get_actions
from governance.models import AuditEvent, SignOff
from governance.publishing.publish import draft_publish
from governance.signoffs import signoff_record
from tests.helpers import draft_in_review


def sign(draft, world, gate, user, decision="approve", comment=""):
    draft.refresh_from_db()
    return signoff_record(draft=draft, gate=world.gates[gate], user=user, decision=decision,
                          revision_id=draft.current_revision_id, comment=comment)


@pytest.mark.parametrize(("risk", "expected"), [
    ("low", ["editorial"]), ("medium", ["editorial", "brand"]), ("high", ["editorial", "brand", "legal"]),
])
def test_risk_decides_which_gates_apply_and_says_why(world, risk, expected):
    draft = draft_in_review(world, risk=risk)
    states = gate_states(draft)
    assert [s.gate.slug for s in states] == expected
    if risk == "high":
        assert states[2].reason == "risk high ≥ high"


def test_low_risk_draft_is_approved_by_the_editorial_gate_alone(world):
    draft = draft_in_review(world, risk="low")
    sign(draft, world, "editorial", world.editor)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    assert AuditEvent.objects.filter(action="governance.gate.approve").count() == 1


def test_it_refuses_publishing_without_legal_signoff(world):
    draft = draft_in_review(world, risk="high")
    sign(draft, world, "editorial", world.editor)
    sign(draft, world, "brand", world.brand_reviewer)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    with pytest.raises(ValidationError):
        draft_publish(draft=draft, user=world.editor)
    sign(draft, world, "legal", world.legal)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    deliveries = draft_publish(draft=draft, user=world.editor)
    assert [d.connector for d in deliveries] == [world.connector]
    payload = deliveries[0].payload["data"]
    assert payload["content_sha256"] == draft.current_revision.content_hash
    manifest = payload["provenance"]["manifest"]
    assert sorted(s["gate"] for s in manifest["signoffs"]) == ["brand", "editorial", "legal"]
    from governance.provenance import verify_manifest

    assert verify_manifest(payload["provenance"]) and manifest["revision"]["published"] is True


def test_a_published_human_edit_keeps_the_generation_provenance_and_names_the_editor(world):
    draft = draft_in_review(world)
    draft_edit(draft=draft, user=world.editor, content="Edited by a person.", base_revision_id=draft.current_revision_id)
    sign(draft, world, "editorial", world.editor)
    draft.refresh_from_db()
    payload = draft_publish(draft=draft, user=world.editor)[0].payload["data"]
    assert payload["content"] == "Edited by a person."
    manifest = payload["provenance"]["manifest"]
    assert manifest["edited_by"] == ["eddie"]
    assert manifest["generation"]["model"] == "test-model"  # from the generated revision it started from


def test_an_editor_cannot_sign_the_legal_gate(world):
    draft = draft_in_review(world, risk="high")
    sign(draft, world, "editorial", world.editor)
    legal_state = next(s for s in gate_states(draft) if s.gate.slug == "legal")
    assert get_actions(draft, legal_state, world.editor) == []
    with pytest.raises(PermissionDenied):
        sign(draft, world, "legal", world.editor)
    assert not SignOff.objects.filter(gate=world.gates["legal"]).exists()


def test_later_stages_wait_for_the_editorial_gate(world):
    draft = draft_in_review(world, risk="medium")
    with pytest.raises(ValidationError, match="earlier stage"):
        sign(draft, world, "brand", world.brand_reviewer)


def test_a_double_click_cannot_sign_twice(world):
    draft = draft_in_review(world, risk="medium")
    sign(draft, world, "editorial", world.editor)
    with pytest.raises(ValidationError, match="already signed"):
        sign(draft, world, "editorial", world.editor)
    assert SignOff.objects.filter(gate=world.gates["editorial"]).count() == 1


def test_a_signoff_on_a_stale_revision_is_refused(world):
    draft = draft_in_review(world)
    stale = draft.current_revision_id
    draft_edit(draft=draft, user=world.editor, content="A better text.", base_revision_id=stale)
    with pytest.raises(ValidationError, match="changed since"):
        signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                       revision_id=stale)


def test_request_changes_needs_a_reason_and_sends_the_draft_back(world):
    draft = draft_in_review(world)
    with pytest.raises(ValidationError, match="reason"):
        sign(draft, world, "editorial", world.editor, decision="request_changes")
    sign(draft, world, "editorial", world.editor, decision="request_changes", comment="Too long")
    draft.refresh_from_db()
    assert (draft.status, draft.status_reason) == (Draft.Status.CHANGES_REQUESTED, "Too long")
    # the answer is a new revision, after which the gate is open again
    draft_edit(draft=draft, user=world.editor, content="Shorter.", base_revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert gate_states(draft)[0].status == "pending"


def test_an_edit_after_approval_reopens_the_gate(world):
    draft = draft_in_review(world)
    sign(draft, world, "editorial", world.editor)
    draft.refresh_from_db()
    draft_edit(draft=draft, user=world.editor, content="Changed after approval.", base_revision_id=draft.current_revision_id)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    assert gate_states(draft)[0].status == "pending"
    with pytest.raises(ValidationError):
        draft_publish(draft=draft, user=world.editor)


def test_a_delivery_attempt_that_is_not_due_yet_does_nothing(world):
    from datetime import timedelta

    from django.utils import timezone

    from governance.models import Delivery
    from governance.publishing.delivery import delivery_attempt

    draft = draft_in_review(world)
    sign(draft, world, "editorial", world.editor)
    draft.refresh_from_db()
    delivery = draft_publish(draft=draft, user=world.editor)[0]
    Delivery.objects.filter(pk=delivery.pk).update(status="retrying", next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert delivery_attempt(delivery_id=delivery.pk) is None
    assert not delivery.attempts.exists()


def test_a_failed_delivery_is_retried_on_the_schedule_and_recorded(world):
    from governance.models import Delivery
    from governance.publishing.delivery import RETRY_SCHEDULE, delivery_attempt

    draft = draft_in_review(world)  # the world's connector points at a closed port
    sign(draft, world, "editorial", world.editor)
    draft.refresh_from_db()
    delivery = draft_publish(draft=draft, user=world.editor)[0]
    assert delivery_attempt(delivery_id=delivery.pk) == RETRY_SCHEDULE[1]
    delivery.refresh_from_db()
    attempt = delivery.attempts.get()
    assert delivery.status == Delivery.Status.RETRYING and attempt.status_code is None and "Connect" in attempt.error
