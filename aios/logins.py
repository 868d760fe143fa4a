"""Sign-in throttling for the desk's login page and the admin's, counted in the Django cache (Valkey).

Only failed sign-ins count, in fixed windows of AIOS_LOGIN_WINDOW_SECONDS from the first failure:
* one account from one address: AIOS_LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS (guessing one password);
* one address, any accounts: AIOS_LOGIN_MAX_FAILURES_PER_ADDRESS (trying many accounts);
* one account, any addresses: AIOS_LOGIN_MAX_FAILURES_PER_ACCOUNT (a spread-out attack); set high,
  because it also locks the account's owner out.
While a limit is reached every sign-in it covers is refused, the right password too, with a message
saying when to try again; the moment a limit is reached is audited (`auth.login.throttled`).
"""
from __future__ import annotations

import logging
import math
import time

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest

from governance.audit import audit_log

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The caller's address; behind the TLS proxy, the last X-Forwarded-For entry (the one the proxy added)."""
    if settings.AIOS_BEHIND_TLS_PROXY:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded[-1]:
            return forwarded[-1][:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def _scopes(username: str, address: str) -> list[tuple[str, str, int]]:
    account = username.strip().casefold()[:150]
    return [
        ("account_address", f"{account}|{address}", settings.AIOS_LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS),
        ("address", address, settings.AIOS_LOGIN_MAX_FAILURES_PER_ADDRESS),
        ("account", account, settings.AIOS_LOGIN_MAX_FAILURES_PER_ACCOUNT),
    ]


def _key(scope: str, value: str) -> str:
    return f"login-failures:{scope}:{value}"


def login_blocked_for(username: str, address: str) -> int:
    """Seconds until a sign-in as `username` from `address` is accepted again; 0 = not throttled."""
    now = time.time()
    wait = 0.0
    for scope, value, limit in _scopes(username, address):
        key = _key(scope, value)
        found = cache.get_many([key, f"{key}:until"])
        if found.get(key, 0) >= limit:
            wait = max(wait, found.get(f"{key}:until", now + 1) - now)
    return max(0, math.ceil(wait))


def login_failure_record(*, username: str, address: str) -> None:
    """Count one failed sign-in in every scope (atomically: parallel guesses all count); audit each
    limit at the moment it is reached."""
    window = settings.AIOS_LOGIN_WINDOW_SECONDS
    for scope, value, limit in _scopes(username, address):
        key = _key(scope, value)
        if cache.add(key, 0, timeout=window):  # the first failure opens the window
            cache.set(f"{key}:until", time.time() + window, timeout=window)
        try:
            count = cache.incr(key)
        except ValueError:  # the window closed between the two calls
            cache.set(f"{key}:until", time.time() + window, timeout=window)
            cache.add(key, 1, timeout=window)
            count = 1
        if count == limit:
            logger.warning("sign-in throttled: %s %s after %d failures", scope, value, limit)
            with transaction.atomic():
                audit_log(action="auth.login.throttled", object_type="auth.login", object_id=scope,
                          label="login throttle",
                          data={"scope": scope, "username": username[:150], "address": address,
                                "failures": limit, "window_seconds": window})


def login_failures_clear(*, username: str, address: str) -> None:
    """A successful sign-in forgives this account's failures from this address (not the others)."""
    scope, value, _ = _scopes(username, address)[0]
    cache.delete_many([_key(scope, value), f"{_key(scope, value)}:until"])


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class ThrottledLoginMixin:
    """For an AuthenticationForm: refuse while throttled, count failures, forgive on success."""

    request: HttpRequest | None
    cleaned_data: dict

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request is not None else ""
        wait = login_blocked_for(username, address)
        if wait:
            raise forms.ValidationError(
                f"Too many failed sign-ins. For your security, sign-in is paused: try again in {_minutes(wait)}.",
                code="throttled",
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if username:
                login_failure_record(username=username, address=address)
            raise
        login_failures_clear(username=username, address=address)
        return cleaned


class ThrottledLoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
