from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from editorial.models import Draft
from governance import tokens
from governance.models import ApiToken, AuditEvent
from governance.permissions import api_scope_required
from governance.tokens import token_authenticate, token_create, token_revoke
from tests.factories import PASSWORD, UserFactory
from tests.helpers import draft_in_review

PROBLEM = "application/problem+json"


def make_token(user, *, scopes=("read", "write"), days=30, **kwargs):
    return token_create(user=user, name="script", scopes=list(scopes), expires_in_days=days, created_by=user,
                        **kwargs)


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def brief_body(world, **changes) -> str:
    body = {"brand": world.brand.slug, "title": "Autumn", "goal": "Announce the roast", "audience": "fans",
            "channel": "blog", "tone": "warm", "risk": "low", "template": world.template.slug}
    return json.dumps({**body, **changes})


@pytest.fixture
def staff(world):
    return UserFactory(username="sam", is_staff=True)


@pytest.fixture
def bot(world):
    return UserFactory(username="cms-bot")


# --- services ---------------------------------------------------------------------------------

def test_a_new_token_has_the_documented_format_and_authenticates(world):
    token, raw = make_token(world.editor)
    assert raw.startswith(f"aios_{token.prefix}_") and len(token.prefix) == 8
    assert token_authenticate(raw) == token
    assert token.scopes == ["read", "write"] and token.kind == "personal"
    assert token.expires_at - timezone.now() > timedelta(days=29)


def test_only_a_hash_of_the_secret_is_stored_or_logged(world):
    token, raw = make_token(world.editor)
    secret = raw[len(f"aios_{token.prefix}_"):]
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(row, default=str)
    event = AuditEvent.objects.get(action="governance.api_token.create")
    assert event.actor_user == world.editor and event.data["prefix"] == token.prefix
    assert secret not in json.dumps(event.data) and raw not in json.dumps(event.data)


@pytest.mark.parametrize("raw", [
    "", "nonsense", "aios_", "aios_short", "aios_ABCDEFGH_not-the-secret", "Bearer aios_x_y",
])
def test_unknown_or_malformed_tokens_do_not_authenticate(world, raw):
    make_token(world.editor)
    assert token_authenticate(raw) is None


def test_a_token_with_a_wrong_secret_does_not_authenticate(world):
    _, raw = make_token(world.editor)
    assert token_authenticate(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None


def test_a_revoked_token_stops_working_and_the_revocation_is_audited(world):
    token, raw = make_token(world.editor)
    token_revoke(token=token, user=world.editor)
    token_revoke(token=token, user=world.editor)  # twice is harmless
    assert token_authenticate(raw) is None
    assert AuditEvent.objects.filter(action="governance.api_token.revoke", object_id=str(token.pk)).count() == 1


def test_an_expired_token_stops_working(world):
    token, raw = make_token(world.editor)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert token_authenticate(raw) is None


def test_a_token_without_expiry_keeps_working(world):
    token, raw = make_token(world.editor, days=None)
    assert token.expires_at is None and token_authenticate(raw) == token


def test_a_token_of_a_disabled_account_stops_working(world):
    _, raw = make_token(world.editor)
    world.editor.is_active = False
    world.editor.save()
    assert token_authenticate(raw) is None


def test_last_used_is_written_at_most_once_a_minute(world):
    token, raw = make_token(world.editor)
    assert token.last_used_at is None
    first = token_authenticate(raw).last_used_at
    assert first is not None
    token_authenticate(raw)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    token_authenticate(raw)
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=2)


@pytest.mark.parametrize(("changes", "field"), [
    ({"scopes": ["read", "root"]}, "scopes"),
    ({"scopes": []}, "scopes"),
    ({"name": "   "}, "name"),
    ({"expires_in_days": 0}, "expires_in_days"),
    ({"expires_in_days": 366}, "expires_in_days"),
])
def test_token_creation_refuses_bad_input_naming_the_field(world, changes, field):
    args = {"user": world.editor, "name": "script", "scopes": ["read"], "expires_in_days": 30,
            "created_by": world.editor, **changes}
    with pytest.raises(ValidationError) as caught:
        token_create(**args)
    assert field in caught.value.message_dict
    assert not ApiToken.objects.exists()


def test_an_unknown_scope_is_named_in_the_error(world):
    with pytest.raises(ValidationError) as caught:
        token_create(user=world.editor, name="x", scopes=["root"], expires_in_days=1, created_by=world.editor)
    assert "root" in caught.value.message_dict["scopes"][0]


def test_personal_tokens_are_only_created_by_their_owner(world, staff):
    with pytest.raises(PermissionDenied):
        token_create(user=world.editor, name="x", scopes=["read"], expires_in_days=1, created_by=world.requester)
    with pytest.raises(PermissionDenied):
        token_create(user=world.editor, name="x", scopes=["read"], expires_in_days=1, created_by=staff)


def test_only_staff_create_service_tokens_and_only_for_another_account(world, staff, bot):
    with pytest.raises(PermissionDenied):
        token_create(user=bot, name="cms", scopes=["read"], expires_in_days=1, kind="service",
                     created_by=world.editor)
    with pytest.raises(ValidationError):
        token_create(user=staff, name="cms", scopes=["read"], expires_in_days=1, kind="service", created_by=staff)
    token, raw = token_create(user=bot, name="cms", scopes=["read"], expires_in_days=1, kind="service",
                              created_by=staff)
    assert token.user == bot and token.created_by == staff and token_authenticate(raw) == token


def test_only_the_owner_or_staff_revoke_a_token(world, staff):
    token, _ = make_token(world.editor)
    with pytest.raises(PermissionDenied):
        token_revoke(token=token, user=world.requester)
    token_revoke(token=token, user=staff)
    token.refresh_from_db()
    assert token.revoked_at is not None


# --- the API ------------------------------------------------------------------------------------

def test_a_bearer_token_acts_as_its_user_on_the_api(client, world):
    draft = draft_in_review(world)
    token, raw = make_token(world.editor)
    response = client.get(f"/api/v1/drafts/{draft.pk}", headers=bearer(raw))
    assert response.status_code == 200 and response.json()["id"] == draft.pk
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_token_sees_only_what_its_user_may_see(client, world):
    draft = draft_in_review(world)
    _, raw = make_token(world.outsider)
    assert client.get(f"/api/v1/drafts/{draft.pk}", headers=bearer(raw)).status_code == 404


@pytest.mark.parametrize(("spoil", "detail"), [
    ("expire", "This token has expired."),
    ("revoke", "This token has been revoked."),
    ("garble", "This token is not valid."),
])
def test_refused_tokens_get_401_saying_why(client, world, spoil, detail):
    draft = draft_in_review(world)
    token, raw = make_token(world.editor)
    if spoil == "expire":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    elif spoil == "revoke":
        token_revoke(token=token, user=world.editor)
    else:
        raw = raw[:-4] + "zzzz"
    response = client.get(f"/api/v1/drafts/{draft.pk}", headers=bearer(raw))
    assert response.status_code == 401 and response["Content-Type"].startswith(PROBLEM)
    assert response.json()["detail"] == detail
    assert "invalid_token" in response["WWW-Authenticate"]


def test_a_bad_bearer_token_is_refused_even_with_a_valid_session(client, world):
    draft = draft_in_review(world)
    assert client.login(username="eddie", password=PASSWORD)
    assert client.get(f"/api/v1/drafts/{draft.pk}", headers=bearer("aios_nothing_here")).status_code == 401
    assert client.get(f"/api/v1/drafts/{draft.pk}").status_code == 200


def test_token_posts_need_no_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    _, raw = make_token(world.requester, scopes=["write"])
    response = client.post("/api/v1/briefs", brief_body(world), content_type="application/json", headers=bearer(raw))
    assert response.status_code == 201, response.content


def test_session_posts_still_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="rita", password=PASSWORD)
    refused = client.post("/api/v1/briefs", brief_body(world), content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    assert not Draft.objects.exists()
    client.get("/tokens/")  # any page with a form hands out the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    accepted = client.post("/api/v1/briefs", brief_body(world), content_type="application/json",
                           headers={"X-CSRFToken": csrf})
    assert accepted.status_code == 201, accepted.content


def test_api_scope_required_checks_the_tokens_scopes():
    write_only = SimpleNamespace(api_token=SimpleNamespace(scopes=["write"]))
    with pytest.raises(PermissionDenied, match="read"):
        api_scope_required(write_only, "read")
    api_scope_required(write_only, "write")
    api_scope_required(SimpleNamespace(api_token=SimpleNamespace(scopes=["admin"])), "publish")
    api_scope_required(SimpleNamespace(), "publish")  # a session: the person's own permissions decide


def test_a_write_only_token_cannot_read_a_draft(client, world):
    draft = draft_in_review(world)
    _, raw = make_token(world.editor, scopes=["write"])
    response = client.get(f"/api/v1/drafts/{draft.pk}", headers=bearer(raw))
    assert response.status_code == 403
    assert response["Content-Type"].startswith(PROBLEM) and "read" in response.json()["detail"]


def test_a_read_token_can_read_a_draft(client, world):
    draft = draft_in_review(world)
    _, raw = make_token(world.editor, scopes=["read"])
    assert client.get(f"/api/v1/drafts/{draft.pk}", headers=bearer(raw)).status_code == 200


# --- rate limits ------------------------------------------------------------------------------

@pytest.fixture
def pinned_clock(monkeypatch):
    monkeypatch.setattr(tokens, "_clock", lambda: 1_700_000_010.0)  # 30 s before its minute ends


def test_a_token_over_its_rate_limit_gets_429_with_retry_after(client, world, pinned_clock):
    draft = draft_in_review(world)
    _, raw = make_token(world.editor, rate_limit_per_minute=2)
    _, other = make_token(world.editor, rate_limit_per_minute=2)
    url = f"/api/v1/drafts/{draft.pk}"
    assert [client.get(url, headers=bearer(raw)).status_code for _ in range(2)] == [200, 200]
    limited = client.get(url, headers=bearer(raw))
    assert limited.status_code == 429 and limited["Retry-After"] == "30"
    assert limited["Content-Type"].startswith(PROBLEM) and limited.json()["retry_after"] == 30
    assert client.get(url, headers=bearer(other)).status_code == 200  # each token has its own budget


def test_sessions_have_a_per_user_rate_limit(client, world, pinned_clock, settings):
    settings.AIOS_API_SESSION_RATE_LIMIT_PER_MINUTE = 1
    draft = draft_in_review(world)
    assert client.login(username="eddie", password=PASSWORD)
    assert client.get(f"/api/v1/drafts/{draft.pk}").status_code == 200
    limited = client.get(f"/api/v1/drafts/{draft.pk}")
    assert limited.status_code == 429 and int(limited["Retry-After"]) == 30


# --- the desk page ------------------------------------------------------------------------------

def login(client, username: str) -> Client:
    assert client.login(username=username, password=PASSWORD)
    return client


def test_the_desk_lists_only_my_own_tokens(client, world):
    token_create(user=world.editor, name="eddies-script", scopes=["read"], expires_in_days=5,
                 created_by=world.editor)
    token_create(user=world.requester, name="ritas-script", scopes=["read"], expires_in_days=5,
                 created_by=world.requester)
    page = login(client, "eddie").get("/tokens/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "eddies-script" in html and "ritas-script" not in html
    assert 'href="/tokens/"' in html  # the nav link
    assert "Service tokens" not in html


def test_creating_a_token_on_the_desk_shows_it_once(client, world):
    login(client, "eddie")
    response = client.post("/tokens/", {"name": "laptop", "scopes": ["read", "write"], "expires_in_days": "30"})
    assert response.status_code == 201
    token = ApiToken.objects.get(user=world.editor)
    raw = response.context["new_token"]
    assert raw.startswith(f"aios_{token.prefix}_") and raw in response.content.decode()
    assert "not shown again" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    again = client.get("/tokens/").content.decode()
    assert raw not in again and f"aios_{token.prefix}_" in again
    assert token.scopes == ["read", "write"] and token_authenticate(raw) == token


def test_the_desk_shows_form_errors_and_creates_nothing(client, world):
    login(client, "eddie")
    response = client.post("/tokens/", {"name": "laptop", "expires_in_days": "400"})
    assert response.status_code == 422
    assert set(response.context["form"].errors) == {"scopes", "expires_in_days"}
    assert not ApiToken.objects.exists()


def test_i_can_revoke_my_token_but_not_someone_elses(client, world):
    mine, _ = make_token(world.editor)
    theirs, _ = make_token(world.requester)
    login(client, "eddie")
    assert client.post(f"/tokens/{theirs.pk}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    response = client.post(f"/tokens/{mine.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == "/tokens/"
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    page = client.get("/tokens/").content.decode()
    assert "Revoked" in page


def test_the_revoke_button_asks_for_confirmation(client, world):
    token, _ = make_token(world.editor)
    html = login(client, "eddie").get("/tokens/").content.decode()
    # static/js/forms.js asks (no inline handler under the CSP); tests/test_forms_js_browser.py clicks it.
    assert f'action="/tokens/{token.pk}/revoke/" data-confirm="Revoke “' in html and "onsubmit" not in html
    assert "js/forms.js" in html


def test_staff_create_service_tokens_for_another_account(client, world, staff, bot):
    login(client, "sam")
    page = client.get("/tokens/")
    assert "Create a service token" in page.content.decode()
    response = client.post("/tokens/service/", {
        "service-user": bot.pk, "service-name": "cms import", "service-scopes": ["read", "publish"],
        "service-expires_in_days": "",
    })
    assert response.status_code == 201
    token = ApiToken.objects.get()
    assert (token.user, token.kind, token.created_by, token.expires_at) == (bot, "service", staff, None)
    assert response.context["new_token"] in response.content.decode()
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 302  # staff manage service tokens


def test_a_non_staff_user_cannot_create_service_tokens(client, world, bot):
    login(client, "eddie")
    response = client.post("/tokens/service/", {
        "service-user": bot.pk, "service-name": "cms", "service-scopes": ["read"], "service-expires_in_days": "5",
    })
    assert response.status_code == 403
    assert not ApiToken.objects.exists()
    assert "Create a service token" not in client.get("/tokens/").content.decode()


def test_staff_cannot_revoke_another_persons_personal_token_on_the_desk(client, world, staff):
    token, _ = make_token(world.editor)
    assert login(client, "sam").post(f"/tokens/{token.pk}/revoke/").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    response = client.get("/tokens/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize(("method", "path"), [
    ("put", "/tokens/"), ("delete", "/tokens/"), ("get", "/tokens/service/"), ("get", "/tokens/1/revoke/"),
])
def test_wrong_methods_on_the_desk_get_405(client, world, method, path):
    login(client, "eddie")
    assert getattr(client, method)(path).status_code == 405
