"""Every API route checks its scope: a token without it gets 403 and changes nothing; the same
token with exactly that scope gets past the check (the request is then judged on its merits)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from governance.models import AuditEvent
from governance.signoffs import signoff_record
from governance.tokens import token_create
from tests.helpers import draft_in_review

ALL = {"read", "write", "sign-off", "publish"}


def routes(d, rev, brief_id):
    future = (timezone.now() + timedelta(days=1)).isoformat()
    return [
        ("read", "get", "/api/v1/briefs", None),
        ("read", "get", f"/api/v1/briefs/{brief_id}", None),
        ("read", "get", f"/api/v1/drafts/{d}", None),
        ("read", "get", f"/api/v1/drafts/{d}/diff?a={rev}&b={rev}", None),
        ("read", "get", f"/api/v1/drafts/{d}/actions", None),
        ("read", "get", f"/api/v1/drafts/{d}/deliveries", None),
        ("read", "get", "/api/v1/queue", None),
        ("write", "post", "/api/v1/briefs", {"brand": "northwind", "title": "t", "goal": "g", "audience": "a",
                                             "channel": "blog", "template": "blog-post"}),
        ("write", "post", f"/api/v1/drafts/{d}/revisions", {"content": "New words.", "base_revision": rev}),
        ("write", "post", f"/api/v1/drafts/{d}/evaluate", {"text": "guaranteed"}),
        ("sign-off", "post", f"/api/v1/drafts/{d}/gates/editorial/request-changes", {"revision": rev, "comment": "x"}),
        ("publish", "post", f"/api/v1/drafts/{d}/publish", {}),
        ("publish", "post", f"/api/v1/drafts/{d}/schedule", {"publish_at": future}),
        ("publish", "post", f"/api/v1/drafts/{d}/retract", {"reason": "x"}),
        ("publish", "delete", f"/api/v1/drafts/{d}/schedule", None),
    ]


@pytest.mark.parametrize("index", range(15))
def test_each_route_needs_its_scope(client, world, index):
    draft = draft_in_review(world)
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=draft.current_revision_id)
    scope, method, path, body = routes(draft.pk, draft.current_revision_id, draft.brief_id)[index]

    def call(scopes):
        _, raw = token_create(user=world.editor, name=f"t{len(scopes)}", scopes=sorted(scopes),
                              expires_in_days=1, created_by=world.editor)
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
        if body is not None:
            return getattr(client, method)(path, json.dumps(body), content_type="application/json", **kwargs)
        return getattr(client, method)(path, **kwargs)

    events = AuditEvent.objects.count()
    refused = call(ALL - {scope})
    assert refused.status_code == 403 and scope in refused.json()["detail"], refused.content
    assert AuditEvent.objects.count() == events + 1  # only the token's own creation was audited
    allowed = call({scope})
    assert allowed.status_code != 403 or scope not in allowed.json().get("detail", ""), allowed.content
    assert allowed.status_code < 500
