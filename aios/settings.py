"""One settings module for every environment, read from typed environment variables.

Unset variables fall back to the embedded services the launcher starts (`python3 -m aios.launcher run`),
so the same code talks to external PostgreSQL, Redis/Valkey and model servers when they are set.
Bad values fail loudly at start-up (environs raises on an unparsable int/bool/url).
"""
from __future__ import annotations

import ipaddress
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from environs import Env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = Env()

DEBUG = env.bool("AIOS_DEBUG", default=False)
SECRET_KEY = env.str("AIOS_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("AIOS_SECRET_KEY must be set (the launcher sets one for local runs).")
    SECRET_KEY = "insecure-dev-key-only-for-debug"
ALLOWED_HOSTS = env.list("AIOS_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("AIOS_CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_URL = env.str("AIOS_PUBLIC_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "csp",
    "template_partials",
    "guardian",
    "ninja",
    "governance",
    "agents",
    "editorial",
    "editorial.batches",
    "editorial.insights",
    "editorial.campaigns",
    "aios.demo_cms",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "aios.urls"
ASGI_APPLICATION = "aios.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "editorial.context_processors.notifications",
            ],
        },
    },
]

# Embedded PostgreSQL listens on a Unix socket inside its data folder (no TCP).
EMBEDDED_PG_DIR = VAR_DIR / "pgdata"
DATABASES = {
    "default": env.dj_db_url(
        "DATABASE_URL",
        default=f"postgresql://postgres@/aios?host={EMBEDDED_PG_DIR}",
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("AIOS_DB_CONN_MAX_AGE", default=0)
# Celery worker processes keep their connection between tasks, up to this many seconds (aios/celery.py).
AIOS_WORKER_DB_CONN_MAX_AGE = env.int("AIOS_WORKER_DB_CONN_MAX_AGE", default=300)
# Model prices, budget caps and every cost are in one currency, the one the model prices are given in;
# this is only how pages and messages write it ("$0.0004", or "€5.00" with AIOS_CURRENCY_SYMBOL=€).
AIOS_CURRENCY_SYMBOL = env.str("AIOS_CURRENCY_SYMBOL", default="$")
DATABASES["default"].setdefault("TEST", {})
# Channels' live-server helpers add the test prefix twice unless the name is explicit.
DATABASES["default"]["TEST"]["NAME"] = f"test_{DATABASES['default']['NAME']}"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:16379/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, the same as channels-redis's
        # 5 s BZPOPMIN: the race kills idle WebSocket consumers. Read with a longer timeout.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}], "prefix": "aios:ch:"},
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "aios",
    }
}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous visitors get nothing
GUARDIAN_RAISE_403 = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "editorial:queue"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

EMAIL_BACKEND = env.str("AIOS_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Two queues: interactive work (briefs filed one by one, rewrites, publishing) and bulk runs
# (editorial/batches/). Workers consume "default,bulk" in that order, and the "priority" order
# strategy makes each fetch try the interactive queue first (kombu's default rotates queues).
AIOS_INTERACTIVE_QUEUE = "default"
AIOS_BULK_QUEUE = "bulk"
CELERY_TASK_DEFAULT_QUEUE = AIOS_INTERACTIVE_QUEUE
# Bulk briefs (editorial/batches/): a batch files a brief only while fewer than these bulk drafts
# are being written (all brands / its brand), so the bulk queue stays short and interactive work
# finds a free worker within one bulk step.
AIOS_BULK_MAX_IN_FLIGHT = env.int("AIOS_BULK_MAX_IN_FLIGHT", default=16)
AIOS_BULK_MAX_IN_FLIGHT_PER_BRAND = env.int("AIOS_BULK_MAX_IN_FLIGHT_PER_BRAND", default=12)
AIOS_BULK_FEED_SECONDS = env.float("AIOS_BULK_FEED_SECONDS", default=0.5)
AIOS_BULK_MAX_ROWS = env.int("AIOS_BULK_MAX_ROWS", default=5000)
AIOS_BULK_MAX_BYTES = env.int("AIOS_BULK_MAX_BYTES", default=20 * 1024 * 1024)
# Pipeline steps are idempotent (claimed status + unique key), so a lost worker's task may run again.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = env.int("AIOS_TASK_TIME_LIMIT", default=900)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Above the hard time limit, or a slow task would be delivered twice.
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 300,
    # kombu scans for unacked messages of dead workers only every interval × throttle seconds
    # (100 s by default): scan every 10 s, so a message is back soon after its visibility timeout.
    "unacked_restore_interval": env.int("AIOS_UNACKED_RESTORE_SECONDS", default=10),
    "unacked_restore_throttle": 1,
    "queue_order_strategy": "priority",
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BEAT_SCHEDULE = {
    "publish-scheduled-drafts": {"task": "governance.publish_due", "schedule": 15.0},
    "purge-idempotency-keys": {"task": "governance.idempotency_purge", "schedule": 3600.0},
    # A run whose worker died (kill -9, lost machine) is re-queued long before the broker's
    # visibility timeout would bring its message back (agents/recovery.py).
    # Bulk batches: start the scheduled ones that are due, and re-kick a running batch whose
    # feeder chain was lost (editorial/batches/tasks.py).
    "feed-batches": {"task": "batches.feed_due", "schedule": 10.0},
    "sweep-stale-runs": {"task": "agents.sweep_stale_runs", "schedule": env.float("AIOS_SWEEP_SECONDS", default=30.0)},
    # Insights rollups follow the audit log (editorial/insights/facts.py): figures are at most this stale.
    "insights-refresh": {"task": "insights.refresh", "schedule": env.float("AIOS_INSIGHTS_REFRESH_SECONDS", default=60.0)},
    # A knowledge document whose expiry date passed flags the pieces that rest on it (editorial/sourceflags.py).
    "sweep-expired-sources": {"task": "agents.sweep_expired_sources", "schedule": 300.0},
}

# --- Agent run reliability (agents/pipeline/runs.py, recovery.py; agents/calls/) -------
# A run "running" without a heartbeat for this long lost its worker and is claimed again.
AIOS_RUN_STALE_SECONDS = env.float("AIOS_RUN_STALE_SECONDS", default=90.0)
# A run "queued" this long (since queued or last claimed) lost its task message with a killed worker
# and is sent again (the claim makes a duplicate harmless). Above the budget recheck wait.
AIOS_RUN_LOST_MESSAGE_SECONDS = env.float("AIOS_RUN_LOST_MESSAGE_SECONDS", default=600.0)
# A run survives this many lost workers (killed mid-run) before it fails; model errors have their own,
# smaller allowance (agents/pipeline/runs.py MAX_ATTEMPTS).
AIOS_RUN_MAX_TAKEOVERS = env.int("AIOS_RUN_MAX_TAKEOVERS", default=10)
# Retries of one model call inside the worker (exponential backoff with full jitter, honouring
# Retry-After up to AIOS_CALL_RETRY_MAX_WAIT); past that the run itself is retried by Celery.
AIOS_CALL_RETRIES = env.int("AIOS_CALL_RETRIES", default=2)
AIOS_CALL_RETRY_BASE = env.float("AIOS_CALL_RETRY_BASE", default=0.5)
AIOS_CALL_RETRY_MAX_WAIT = env.float("AIOS_CALL_RETRY_MAX_WAIT", default=10.0)
# Circuit breaker per model version: opens after this many consecutive failed calls, stays open
# for the cool-down, then lets one probe call through.
AIOS_BREAKER_THRESHOLD = env.int("AIOS_BREAKER_THRESHOLD", default=5)
AIOS_BREAKER_COOLDOWN_SECONDS = env.float("AIOS_BREAKER_COOLDOWN_SECONDS", default=30.0)
# A run waiting for budget (Budget.on_exceed = wait) looks again after at most this long.
AIOS_BUDGET_RECHECK_SECONDS = env.float("AIOS_BUDGET_RECHECK_SECONDS", default=300.0)
# Exact-match prompt cache for temperature-0 model versions.
AIOS_PROMPT_CACHE = env.bool("AIOS_PROMPT_CACHE", default=True)

# --- Models ---------------------------------------------------------------------------------
# The "settings default" model version reads these, so pointing AIOS at another
# OpenAI-compatible server needs no database change.
AIOS_LLM_BASE_URL = env.str("AIOS_LLM_BASE_URL", default="http://127.0.0.1:8081/v1")
AIOS_LLM_API_KEY = env.str("AIOS_LLM_API_KEY", default="not-needed")
AIOS_LLM_MODEL = env.str("AIOS_LLM_MODEL", default="gemma-3-270m")
AIOS_LLM_MODE = env.str("AIOS_LLM_MODE", default="completion", validate=lambda v: v in {"chat", "completion"})
AIOS_LLM_TIMEOUT = env.float("AIOS_LLM_TIMEOUT", default=60.0)
AIOS_LLM_MAX_TOKENS = env.int("AIOS_LLM_MAX_TOKENS", default=160)

# --- Section acceptance (agents/pipeline/acceptance.py, writer.py) ---------------------------
# A template section may set its own `min_words` / `target_words`; these are the defaults. max_tokens
# of a section's call follows its target (never above the version's max_tokens).
AIOS_SECTION_MIN_WORDS = env.int("AIOS_SECTION_MIN_WORDS", default=20, validate=lambda v: v >= 1)
AIOS_SECTION_TARGET_WORDS = env.int("AIOS_SECTION_TARGET_WORDS", default=70, validate=lambda v: v >= 1)
# Tries of one section (the first with the version's sampling, then varied) before the draft needs a human.
AIOS_SECTION_TRIES = env.int("AIOS_SECTION_TRIES", default=5, validate=lambda v: 1 <= v <= 10)
# Languages a brief may ask for (each section is checked to be in it).
AIOS_CONTENT_LANGUAGES = [("en", "English"), ("de", "German"), ("fr", "French"), ("es", "Spanish"),
                          ("it", "Italian"), ("nl", "Dutch"), ("pt", "Portuguese")]

# "local" = sentence-transformers with the packaged all-MiniLM-L6-v2; otherwise an
# OpenAI-compatible /v1/embeddings base URL.
AIOS_EMBEDDINGS = env.str("AIOS_EMBEDDINGS", default="local")
AIOS_EMBEDDINGS_MODEL = env.str("AIOS_EMBEDDINGS_MODEL", default="all-MiniLM-L6-v2")
# Endpoint only: ask for shortened vectors of this size (OpenAI's `dimensions`); unset = the model's own.
AIOS_EMBEDDINGS_DIM = env.int("AIOS_EMBEDDINGS_DIM", default=None, validate=lambda v: v is None or 1 <= v <= 16000)
AIOS_EMBEDDING_DIM = 384  # the local model's
AIOS_RETRIEVE_K = env.int("AIOS_RETRIEVE_K", default=4)
# Filtered HNSW search (pgvector iterative scans): candidate list size, and how many index tuples a
# filtered query may visit before it gives up (bounds the cost for a brand with few chunks).
AIOS_RETRIEVE_EF_SEARCH = env.int("AIOS_RETRIEVE_EF_SEARCH", default=400, validate=lambda v: 1 <= v <= 1000)
# A brand with at most this many chunks (of the query's dimension) is searched exactly, through its btree:
# measured ~11 ms for 10,000 chunks, exact, where an iterative HNSW scan of a 1 M index took ~30 ms at
# recall ~0.89 (benches/retrieval.py). 0 = always use the HNSW index.
AIOS_RETRIEVE_EXACT_BELOW = env.int("AIOS_RETRIEVE_EXACT_BELOW", default=15_000, validate=lambda v: v >= 0)
AIOS_RETRIEVE_MAX_SCAN_TUPLES = env.int("AIOS_RETRIEVE_MAX_SCAN_TUPLES", default=50_000,
                                        validate=lambda v: v >= 1)
# Iterative scans return rows in relaxed order: fetch k × this many, sort them exactly, keep k.
AIOS_RETRIEVE_OVERFETCH = env.int("AIOS_RETRIEVE_OVERFETCH", default=2, validate=lambda v: 1 <= v <= 10)
# Knowledge uploads: the largest file or pasted text accepted.
AIOS_KNOWLEDGE_MAX_BYTES = env.int("AIOS_KNOWLEDGE_MAX_BYTES", default=2 * 1024 * 1024, validate=lambda v: v > 0)
# Sentence provenance: a factual-looking sentence whose best source scores below this is flagged.
AIOS_GROUNDING_THRESHOLD = env.float("AIOS_GROUNDING_THRESHOLD", default=0.5, validate=lambda v: -1 <= v <= 1)

# How often the writer flushes streamed tokens to browsers and to its checkpoint row.
AIOS_STREAM_FLUSH_SECONDS = env.float("AIOS_STREAM_FLUSH_SECONDS", default=0.03)

# --- Provenance manifests ---------------------------------------------------------------------
# Ed25519 private key that signs provenance manifests: base64 of the 32 raw key bytes. Unset, a
# key derived from SECRET_KEY is used: for development and tests only (it changes whenever
# SECRET_KEY does, and `manage.py check --deploy` warns about it).
def _ed25519_private_key(name: str) -> str:
    import base64
    import binascii

    value = env.str(name, default="").strip()
    if value:
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) != 32:
            raise ImproperlyConfigured(f"{name} must be the base64 of a 32-byte Ed25519 private key.")
    return value


AIOS_MANIFEST_SIGNING_KEY = _ed25519_private_key("AIOS_MANIFEST_SIGNING_KEY")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("AIOS_LOG_LEVEL", default="INFO")},
    "loggers": {n: {"level": "WARNING"} for n in ("httpx", "httpx2", "openai", "sentence_transformers")},
}

AIOS_SERVE_STATIC = env.bool("AIOS_SERVE_STATIC", default=True)

# --- API (/api/v1) ------------------------------------------------------------------------------
# Body size limit (413 above it), Idempotency-Key replays and problem+json errors for the API.
AIOS_API_MAX_BODY_BYTES = env.int("AIOS_API_MAX_BODY_BYTES", default=1024 * 1024)
# Browser sessions share one per-user budget; API tokens carry their own (ApiToken.rate_limit_per_minute).
AIOS_API_SESSION_RATE_LIMIT_PER_MINUTE = env.int("AIOS_API_SESSION_RATE_LIMIT_PER_MINUTE", default=600)
MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
                  "aios.api.ApiMiddleware")
# After the API's size limit: a NUL character in any field or JSON string is a 400, never a database error.
MIDDLEWARE.insert(MIDDLEWARE.index("aios.api.ApiMiddleware") + 1, "aios.text_input.TextInputMiddleware")

# --- HTTPS (manage.py check --deploy) ---------------------------------------------------------------
# Without DEBUG the site is served over HTTPS by default: secure cookies, HSTS and a redirect to https.
# AIOS_HTTPS=0 serves plain http: the launcher sets it for its own http:// URL, the tests for theirs.
# Behind a TLS-terminating proxy keep AIOS_HTTPS on and set AIOS_BEHIND_TLS_PROXY=1: Django then takes
# `X-Forwarded-Proto: https` from the proxy as a secure request (the proxy must set or overwrite that
# header on every request, or a client could forge it), so the redirect does not loop.
AIOS_HTTPS = env.bool("AIOS_HTTPS", default=not DEBUG)
AIOS_BEHIND_TLS_PROXY = env.bool("AIOS_BEHIND_TLS_PROXY", default=False)
if AIOS_BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A proxy that redirects to https itself may turn Django's redirect off (AIOS_SSL_REDIRECT=0).
SECURE_SSL_REDIRECT = env.bool("AIOS_SSL_REDIRECT", default=AIOS_HTTPS)
# Load balancers probe /healthz, and Prometheus may scrape /metrics, over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = AIOS_HTTPS
SECURE_HSTS_SECONDS = env.int("AIOS_HSTS_SECONDS", default=31_536_000 if AIOS_HTTPS else 0,
                              validate=lambda v: v >= 0)
# Browsers remember HSTS for a year: subdomains and preload (AIOS_HSTS_PRELOAD=0 to leave the site off
# the browsers' preload lists) only while HSTS is on.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("AIOS_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("AIOS_HSTS_PRELOAD", default=True)

# --- Sign-in throttling (aios/logins.py) ---------------------------------------------------------
# Failed sign-ins counted per window (from the first failure); at a limit, sign-in is refused until
# the window ends, the right password too.
AIOS_LOGIN_WINDOW_SECONDS = env.int("AIOS_LOGIN_WINDOW_SECONDS", default=900, validate=lambda v: v >= 1)
AIOS_LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS = env.int("AIOS_LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS", default=5,
                                                      validate=lambda v: v >= 1)
AIOS_LOGIN_MAX_FAILURES_PER_ADDRESS = env.int("AIOS_LOGIN_MAX_FAILURES_PER_ADDRESS", default=30,
                                              validate=lambda v: v >= 1)
AIOS_LOGIN_MAX_FAILURES_PER_ACCOUNT = env.int("AIOS_LOGIN_MAX_FAILURES_PER_ACCOUNT", default=100,
                                              validate=lambda v: v >= 1)

# /healthz answers only ok / not ok to anyone; its details (versions, model, workers) go to staff and to
# callers sending `Authorization: Bearer <AIOS_HEALTH_TOKEN>` (unset = staff only).
AIOS_HEALTH_TOKEN = env.str("AIOS_HEALTH_TOKEN", default="")

# --- Content-Security-Policy (django-csp; Django 5.2 has none built in) -----------------------------
# Scripts only from this site: no inline <script>, no on*= handlers, no eval (htmx runs with
# allowEval=false, templates/base.html). Styles only from this site too: the pages use no style=""
# attributes or <style> blocks (htmx's indicator rules are in app.css), and scripts change styles only
# through the CSSOM (element.style.x = …), which style-src does not govern. The favicon is a data: URL.
# WebSockets go to this site ('self' covers ws:/wss: on the same host and port).
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Operations metrics (GET /metrics, aios/metrics.py) ------------------------------------------
# Prometheus scrapes with `Authorization: Bearer <AIOS_METRICS_TOKEN>`, or from an address in
# AIOS_METRICS_ALLOW_IPS (comma-separated addresses or networks, e.g. "10.0.0.0/8,127.0.0.1"; the
# address the web server sees, so behind a proxy prefer the token). Neither set: the endpoint is off.
AIOS_METRICS_TOKEN = env.str("AIOS_METRICS_TOKEN", default="")
AIOS_METRICS_ALLOW_IPS = env.list("AIOS_METRICS_ALLOW_IPS", default=[])
for _entry in AIOS_METRICS_ALLOW_IPS:
    try:
        ipaddress.ip_network(_entry, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"AIOS_METRICS_ALLOW_IPS: {_entry!r} is not an address or network.") from _exc
# Celery queues whose depth is reported, besides the default queue and any declared in task_queues.
AIOS_METRICS_QUEUES = env.list("AIOS_METRICS_QUEUES", default=["default", "bulk"])
# Finished agent runs are counted over this trailing window (aios_agent_runs_finished_recent).
AIOS_METRICS_WINDOW_SECONDS = env.float("AIOS_METRICS_WINDOW_SECONDS", default=300.0, validate=lambda v: v > 0)
# Timing every request (the histogram above); first, so it sees the whole stack.
MIDDLEWARE.insert(0, "aios.metrics.request_metrics_middleware")
