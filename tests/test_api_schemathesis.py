"""Property-based tests of /api/v1 from its own OpenAPI schema (schemathesis 4): whatever a client
sends, the answer is never a server error, and its status code, content type and body are the ones
the schema documents (errors as application/problem+json).

The Django WSGI app runs in-process on the test database, called with an editor's API token (every
scope). Path ids, revision ids and gate slugs are drawn, most of the time, from real rows, so the cases
reach the services and not only the 404s. A bounded number of examples per operation (marked slow).
"""
from __future__ import annotations

import secrets

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from editorial.batches.services import batch_create
from governance.models import ApiToken
from governance.signoffs import signoff_record
from governance.tokens import token_create
from tests.factories import PASSWORD
from tests.helpers import draft_in_review


@pytest.fixture
def editor_session(db, world, client, settings) -> dict:
    """Cookies and CSRF header of a signed-in editor, as a browser sends them."""
    settings.AIOS_API_SESSION_RATE_LIMIT_PER_MINUTE = 1_000_000
    assert client.login(username=world.editor.username, password=PASSWORD)
    csrf = secrets.token_hex(16)  # an unmasked 32-character secret, sent as cookie and header
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return {
        "cookies": {django_settings.SESSION_COOKIE_NAME: session, django_settings.CSRF_COOKIE_NAME: csrf},
        "headers": {"X-CSRFToken": csrf},
    }


@pytest.fixture
def editor_token(db, world) -> dict:
    """An editor's API token with every scope, as a machine sends it."""
    _, raw = token_create(user=world.editor, name="schemathesis", scopes=list(ApiToken.SCOPES), expires_in_days=None,
                          created_by=world.editor, rate_limit_per_minute=1_000_000)
    return {"headers": {"Authorization": f"Bearer {raw}"}}


@pytest.fixture
def api_schema(world, editor_session):
    in_review = draft_in_review(world, risk="medium")
    approved = draft_in_review(world)
    signoff_record(draft=approved, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=approved.current_revision_id)
    drafts = [in_review, approved]
    batch = batch_create(user=world.editor, brand=world.brand, template=world.template, name="Kettles",
                         channel="blog", risk="low", language="en", mapping={}, defaults={},
                         rows=[{"title": f"Kettle {i}", "goal": "Describe it", "audience": "home baristas",
                                "tone": "warm"} for i in range(1, 4)])
    config = schemathesis.Config.from_dict({
        "generation": {"with-security-parameters": False},
        "dictionaries": {
            "drafts": {"values": [d.pk for d in drafts]},
            "briefs": {"values": [d.brief_id for d in drafts]},
            "revisions": {"values": [d.current_revision_id for d in drafts]},
            "gates": {"values": list(world.gates)},
            "batches": {"values": [batch.pk]},
        },
        "parameters": {
            "path.draft_id": {"dictionary": "drafts", "probability": 0.8},
            "path.brief_id": {"dictionary": "briefs", "probability": 0.8},
            "path.gate_slug": {"dictionary": "gates", "probability": 0.8},
            "path.batch_id": {"dictionary": "batches", "probability": 0.8},
            "query.a": {"dictionary": "revisions", "probability": 0.8},
            "query.b": {"dictionary": "revisions", "probability": 0.8},
            "body.revision": {"dictionary": "revisions", "probability": 0.6},
            "body.base_revision": {"dictionary": "revisions", "probability": 0.6},
        },
    })
    # As Django's test client does: the app must not close the test transaction's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application(), config=config)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    # schemathesis 4.32's lazy loader reads and rewrites `node._nodeid`, which pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@hypothesis_settings(
    max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error_or_an_undocumented_answer(case, editor_token):
    case.call_and_validate(**editor_token, checks=[not_a_server_error, status_code_conformance,
                                                   content_type_conformance, response_schema_conformance])


@pytest.mark.slow
@schema.parametrize()
@hypothesis_settings(
    max_examples=5, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck),
)
def test_a_browser_session_gets_no_server_error_or_undocumented_answer_either(case, editor_session):
    case.call_and_validate(**editor_session, checks=[not_a_server_error, status_code_conformance,
                                                     content_type_conformance])
