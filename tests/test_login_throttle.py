"""Sign-in throttling (aios/logins.py) on the desk's login page and the admin's, by account and address."""
from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from governance.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

ATTACKER = "203.0.113.7"
OTHER_ADDRESS = "198.51.100.20"


@pytest.fixture(autouse=True)
def _fresh_counters(db):
    cache.clear()
    yield
    cache.clear()


def _sign_in(client, username: str, password: str, address: str = ATTACKER, url: str = "/login/"):
    client.logout()
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def _signed_in(response) -> bool:
    return response.status_code == 302


def test_after_25_wrong_passwords_the_right_one_is_refused_until_the_window_passes(client, world, settings):
    settings.AIOS_LOGIN_WINDOW_SECONDS = 3
    editor = world.editor.username
    for _ in range(25):
        assert _sign_in(client, editor, "wrong").status_code == 200
    refused = _sign_in(client, editor, PASSWORD)
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    assert "Too many failed sign-ins" in refused.content.decode() and "try again in 1 minute" in refused.content.decode()
    event = AuditEvent.objects.get(action="auth.login.throttled", data__scope="account_address")
    assert event.data["username"] == editor and event.data["address"] == ATTACKER and event.data["failures"] == 5
    # Audited once, when the limit was reached, not once per refused attempt.
    assert AuditEvent.objects.filter(action="auth.login.throttled").count() == 1
    time.sleep(3.2)
    assert _signed_in(_sign_in(client, editor, PASSWORD))


def test_the_same_address_may_still_sign_in_to_another_account(client, world):
    for _ in range(25):
        _sign_in(client, world.editor.username, "wrong")
    assert not _signed_in(_sign_in(client, world.editor.username, PASSWORD))
    assert _signed_in(_sign_in(client, world.legal.username, PASSWORD))


def test_the_owner_from_another_address_is_not_locked_out_by_an_attacker(client, world):
    for _ in range(25):
        _sign_in(client, world.editor.username, "wrong")
    assert _signed_in(_sign_in(client, world.editor.username, PASSWORD, address=OTHER_ADDRESS))


def test_one_address_trying_many_accounts_is_stopped_for_every_account(client, world):
    for n in range(30):
        _sign_in(client, f"guess{n}", "wrong")
    assert AuditEvent.objects.filter(action="auth.login.throttled", data__scope="address").exists()
    refused = _sign_in(client, world.editor.username, PASSWORD)
    assert not _signed_in(refused) and "Too many failed sign-ins" in refused.content.decode()
    assert _signed_in(_sign_in(client, world.editor.username, PASSWORD, address=OTHER_ADDRESS))


def test_an_account_attacked_from_many_addresses_is_paused_everywhere(client, world, settings):
    settings.AIOS_LOGIN_MAX_FAILURES_PER_ACCOUNT = 12
    for n in range(12):
        _sign_in(client, world.editor.username, "wrong", address=f"192.0.2.{n}")
    assert not _signed_in(_sign_in(client, world.editor.username, PASSWORD, address=OTHER_ADDRESS))


def test_a_successful_sign_in_forgives_earlier_failures_of_that_account_from_that_address(client, world):
    for _ in range(4):
        _sign_in(client, world.editor.username, "wrong")
    assert _signed_in(_sign_in(client, world.editor.username, PASSWORD))
    for _ in range(4):
        _sign_in(client, world.editor.username, "wrong")
    assert _signed_in(_sign_in(client, world.editor.username, PASSWORD))


def test_the_admin_sign_in_is_throttled_too(client, db):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    for _ in range(5):
        assert _sign_in(client, "root", "wrong", url="/admin/login/").status_code == 200
    refused = _sign_in(client, "root", PASSWORD, url="/admin/login/")
    assert refused.status_code == 200 and "Too many failed sign-ins" in refused.content.decode()
    assert AuditEvent.objects.filter(action="auth.login.throttled", data__username="root").exists()
    assert _signed_in(_sign_in(client, "root", PASSWORD, address=OTHER_ADDRESS, url="/admin/login/"))


def test_the_test_clients_direct_logins_are_never_counted(client, world):
    for _ in range(50):
        assert client.login(username=world.editor.username, password=PASSWORD)
        client.logout()
    assert not AuditEvent.objects.filter(action="auth.login.throttled").exists()
