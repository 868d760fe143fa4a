"""On the real stack (a Celery worker, the broker, uvicorn): a low-risk brief whose workflow approves by
policy is written, approved by policy, then published by its own task, found by name on the broker."""
from __future__ import annotations

import time

import pytest

from editorial.models import Draft
from governance.models import AuditEvent, Delivery
from tests.conftest import csrf_token
from tests.factories import build_world

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_a_policy_approved_draft_is_published_by_the_worker_after_the_check_run(live_stack, transactional_db):
    world = build_world()
    world.workflow.policy_approval = True
    world.workflow.save()
    rita = live_stack.client("rita")
    form = rita.get("/briefs/new/")
    response = rita.post("/briefs/new/", data={
        "csrfmiddlewaretoken": csrf_token(form.text), "brand": world.brand.pk, "title": "Autumn Ember is back",
        "goal": "Announce the return of Autumn Ember", "audience": "coffee lovers", "channel": "blog",
        "tone": "warm", "risk": "low", "template": world.template.pk,
    })
    assert response.status_code == 200
    draft = Draft.objects.get()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        draft.refresh_from_db()
        if draft.status not in (Draft.Status.GENERATING, Draft.Status.IN_REVIEW, Draft.Status.APPROVED):
            break
        time.sleep(0.3)
    assert draft.status == Draft.Status.PUBLISHED, (draft.status, draft.status_reason)
    check = draft.runs.get(kind="check")
    assert check.status == "succeeded"
    publish = AuditEvent.objects.get(action="governance.draft.publish")
    assert publish.actor_label.startswith("published by policy") and publish.actor_user is None
    assert publish.id > AuditEvent.objects.get(action="governance.gate.approve").id
    assert Delivery.objects.filter(draft=draft).count() == 1
