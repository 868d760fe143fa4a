"""Test settings: the real settings, with a secret key that exists only for tests."""
import os

os.environ.setdefault("AIOS_SECRET_KEY", "tests-only-not-secret")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from aios.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
