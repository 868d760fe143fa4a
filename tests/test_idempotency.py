from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from editorial import briefs as editorial_briefs
from editorial.models import Draft
from governance import tokens
from governance.models import IdempotencyRecord
from governance.tokens import idempotency_purge, token_create, token_revoke
from tests.factories import PASSWORD

PROBLEM = "application/problem+json"


def brief_body(world, **changes) -> str:
    body = {"brand": world.brand.slug, "title": "Autumn", "goal": "Announce the roast", "audience": "fans",
            "channel": "blog", "tone": "warm", "risk": "low", "template": world.template.slug}
    return json.dumps({**body, **changes})


def write_token(user, **kwargs) -> tuple:
    return token_create(user=user, name="script", scopes=["read", "write"], expires_in_days=30, created_by=user,
                        **kwargs)


def post_brief(client, body: str, *, key: str | None = "key-1", raw: str | None = None, **headers):
    if key is not None:
        headers["Idempotency-Key"] = key
    if raw is not None:
        headers["Authorization"] = f"Bearer {raw}"
    return client.post("/api/v1/briefs", body, content_type="application/json", headers=headers)


def test_a_replayed_brief_answers_the_same_and_creates_one_draft(client, world):
    token, raw = write_token(world.requester)
    first = post_brief(client, brief_body(world), raw=raw)
    second = post_brief(client, brief_body(world), raw=raw)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content and second["Content-Type"] == first["Content-Type"]
    assert second["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert Draft.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.owner, record.state, record.response_status) == (f"token:{token.pk}", "done", 201)
    assert record.expires_at - timezone.now() > timedelta(hours=23)


def test_a_session_user_gets_replays_too(client, world):
    assert client.login(username="rita", password=PASSWORD)
    first = post_brief(client, brief_body(world))
    second = post_brief(client, brief_body(world))
    assert (first.status_code, second.status_code) == (201, 201) and second["Idempotent-Replayed"] == "true"
    assert Draft.objects.count() == 1
    assert IdempotencyRecord.objects.get().owner == f"user:{world.requester.pk}"


def test_reusing_a_key_with_another_body_is_422(client, world):
    _, raw = write_token(world.requester)
    assert post_brief(client, brief_body(world), raw=raw).status_code == 201
    reused = post_brief(client, brief_body(world, title="Winter"), raw=raw)
    assert reused.status_code == 422 and reused["Content-Type"].startswith(PROBLEM)
    assert reused.json()["detail"].startswith("Idempotency-Key reused with a different request body")
    assert reused.json()["code"] == "idempotency_key_reused"
    assert Draft.objects.count() == 1


def test_a_key_still_in_flight_is_409(client, world):
    token, raw = write_token(world.requester)
    body = brief_body(world)
    IdempotencyRecord.objects.create(
        owner=f"token:{token.pk}", key="key-1", method="POST", path="/api/v1/briefs",
        body_hash=hashlib.sha256(body.encode()).hexdigest(), expires_at=timezone.now() + timedelta(hours=1),
    )
    response = post_brief(client, body, raw=raw)
    assert response.status_code == 409 and response["Content-Type"].startswith(PROBLEM)
    assert response.json()["code"] == "idempotency_key_in_flight" and response.has_header("Retry-After")
    assert not Draft.objects.exists()


def test_an_abandoned_in_flight_key_is_taken_over(client, world):
    token, raw = write_token(world.requester)
    body = brief_body(world)
    record = IdempotencyRecord.objects.create(
        owner=f"token:{token.pk}", key="key-1", method="POST", path="/api/v1/briefs",
        body_hash=hashlib.sha256(body.encode()).hexdigest(), expires_at=timezone.now() + timedelta(hours=23),
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert post_brief(client, body, raw=raw).status_code == 201
    assert Draft.objects.count() == 1


def test_an_expired_key_is_ignored_and_runs_the_request_again(client, world):
    _, raw = write_token(world.requester)
    assert post_brief(client, brief_body(world), raw=raw).status_code == 201
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = post_brief(client, brief_body(world), raw=raw)
    assert again.status_code == 201 and not again.has_header("Idempotent-Replayed")
    assert Draft.objects.count() == 2
    assert IdempotencyRecord.objects.get().expires_at > timezone.now()


def test_purging_deletes_only_expired_records(world):
    now = timezone.now()
    for key, expires in (("old", now - timedelta(minutes=1)), ("fresh", now + timedelta(hours=1))):
        IdempotencyRecord.objects.create(owner="user:1", key=key, method="POST", path="/api/v1/briefs",
                                         body_hash="x", expires_at=expires)
    assert idempotency_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]


def test_keys_are_scoped_per_owner(client, world):
    _, rita_raw = write_token(world.requester)
    _, eddie_raw = write_token(world.editor)
    _, rita_second = write_token(world.requester)
    responses = [post_brief(client, brief_body(world), raw=raw) for raw in (rita_raw, eddie_raw, rita_second)]
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert not any(r.has_header("Idempotent-Replayed") for r in responses)
    assert Draft.objects.count() == 3
    assert client.login(username="rita", password=PASSWORD)
    assert not post_brief(client, brief_body(world)).has_header("Idempotent-Replayed")  # session ≠ token
    assert Draft.objects.count() == 4


def test_a_4xx_answer_is_replayed(client, world):
    _, raw = write_token(world.requester)
    first = post_brief(client, brief_body(world, channel="fax"), raw=raw)
    second = post_brief(client, brief_body(world, channel="fax"), raw=raw)
    assert first.status_code == second.status_code == 422
    assert second["Idempotent-Replayed"] == "true" and second.json() == first.json()
    assert second["Content-Type"].startswith(PROBLEM)


def test_a_5xx_answer_is_not_stored_so_the_client_can_retry(world, monkeypatch):
    client = Client(raise_request_exception=False)
    _, raw = write_token(world.requester)
    real = editorial_briefs.brief_create

    def broken(**kwargs):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(editorial_briefs, "brief_create", broken)
    failed = post_brief(client, brief_body(world), raw=raw)
    assert failed.status_code == 500 and failed["Content-Type"].startswith(PROBLEM)
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.setattr(editorial_briefs, "brief_create", real)
    retried = post_brief(client, brief_body(world), raw=raw)
    assert retried.status_code == 201 and not retried.has_header("Idempotent-Replayed")
    assert Draft.objects.count() == 1


def test_a_rate_limited_answer_is_not_stored(client, world, monkeypatch):
    monkeypatch.setattr(tokens, "_clock", lambda: 1_700_000_010.0)
    _, raw = write_token(world.requester, rate_limit_per_minute=1)
    assert post_brief(client, brief_body(world), key="a", raw=raw).status_code == 201
    limited = post_brief(client, brief_body(world, title="Other"), key="b", raw=raw)
    assert limited.status_code == 429
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["a"]


def test_posts_without_a_key_run_every_time(client, world):
    _, raw = write_token(world.requester)
    for _ in range(2):
        assert post_brief(client, brief_body(world), key=None, raw=raw).status_code == 201
    assert Draft.objects.count() == 2 and not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["", "k" * 256, "bad\nkey"])
def test_a_malformed_key_is_400(client, world, key):
    _, raw = write_token(world.requester)
    response = post_brief(client, brief_body(world), key=key, raw=raw)
    assert response.status_code == 400 and response["Content-Type"].startswith(PROBLEM)
    assert "Idempotency-Key" in response.json()["detail"]
    assert not Draft.objects.exists()


def test_a_key_of_255_characters_is_accepted(client, world):
    _, raw = write_token(world.requester)
    assert post_brief(client, brief_body(world), key="k" * 255, raw=raw).status_code == 201


def test_unauthenticated_posts_record_nothing(client, world):
    token, raw = write_token(world.requester)
    token_revoke(token=token, user=world.requester)
    assert post_brief(client, brief_body(world)).status_code == 401
    assert post_brief(client, brief_body(world), raw=raw).status_code == 401
    assert not IdempotencyRecord.objects.exists()


def test_a_session_post_failing_csrf_records_nothing(world):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="rita", password=PASSWORD)
    assert post_brief(client, brief_body(world)).status_code == 403
    assert not IdempotencyRecord.objects.exists()
