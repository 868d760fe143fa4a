"""Production defaults: `manage.py check --deploy` passes with only DEBUG off, a secret key and the
manifest signing key, and the variables for plain http or a TLS-terminating proxy do what they say."""
from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _production_env(**extra: str) -> dict[str, str]:
    # Nothing of the test run's own environment (it serves plain http) leaks into the child.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIOS_", "DJANGO_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "aios.settings",
        "AIOS_DEBUG": "0",
        "AIOS_SECRET_KEY": secrets.token_urlsafe(50),
        "AIOS_MANIFEST_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
        **extra,
    })
    return env


def _check_deploy(**extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=_production_env(**extra), cwd=BASE_DIR, capture_output=True, text=True, timeout=120,
    )


def _security_settings(**extra: str) -> dict:
    code = ("import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({n: "
            "getattr(s, n, None) for n in ('SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
            "'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER')}))")
    out = subprocess.run([sys.executable, "-c", code], env=_production_env(**extra), cwd=BASE_DIR,
                         capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_check_deploy_passes_with_debug_off_a_secret_key_and_the_signing_key():
    result = _check_deploy()
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_without_debug_cookies_are_secure_and_http_is_redirected_with_hsts_by_default():
    values = _security_settings()
    assert values["SECURE_SSL_REDIRECT"] and values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # a forged X-Forwarded-Proto is not trusted by default


def test_plain_http_is_only_served_when_aios_https_is_turned_off_and_check_deploy_then_says_so():
    values = _security_settings(AIOS_HTTPS="0")
    assert not values["SECURE_SSL_REDIRECT"] and not values["SESSION_COOKIE_SECURE"]
    assert values["SECURE_HSTS_SECONDS"] == 0
    result = _check_deploy(AIOS_HTTPS="0")
    assert result.returncode != 0 and "security.W008" in result.stderr


def test_behind_a_tls_proxy_the_forwarded_proto_is_trusted_and_everything_stays_secure():
    values = _security_settings(AIOS_BEHIND_TLS_PROXY="1")
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_SSL_REDIRECT"] and values["SESSION_COOKIE_SECURE"]
    assert _check_deploy(AIOS_BEHIND_TLS_PROXY="1").returncode == 0


def test_the_test_settings_serve_plain_http(settings):
    assert not settings.SECURE_SSL_REDIRECT and not settings.SESSION_COOKIE_SECURE
