"""Test settings: the real settings, with a secret key that exists only for tests."""
import os

os.environ.setdefault("AIOS_SECRET_KEY", "tests-only-not-secret")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Test servers speak plain http on 127.0.0.1 (tests/test_deploy_settings.py checks the HTTPS defaults).
os.environ.setdefault("AIOS_HTTPS", "0")

from aios.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

# The test server's replies are short ("w0 … w11.", or an [[echo:…]] sentence): here a section of five
# words is long enough (workers started by the tests read this module too), unless the environment
# says otherwise (the real-model test's worker keeps the product's default). tests/test_acceptance.py
# checks the product's defaults.
if "AIOS_SECTION_MIN_WORDS" not in os.environ:
    AIOS_SECTION_MIN_WORDS = 5
