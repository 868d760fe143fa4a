"""GET /healthz: the state of every part the app needs, 503 when one is down.

Anyone gets only `{"ok": true|false}` (200 / 503). Staff, or a caller sending
`Authorization: Bearer <AIOS_HEALTH_TOKEN>`, also get each check's detail (versions, model, workers).
"""
from __future__ import annotations

import hmac
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    return f"ok (pgvector {row[0]})" if row else "ok (pgvector missing)"


def _broker() -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


def _workers() -> str:
    from aios.celery import app

    replies = app.control.ping(timeout=1.0)
    if not replies:
        raise RuntimeError("no Celery worker answered")
    return f"ok ({len(replies)} worker{'s' if len(replies) != 1 else ''})"


def _model() -> str:
    import openai

    client = openai.OpenAI(base_url=settings.AIOS_LLM_BASE_URL, api_key=settings.AIOS_LLM_API_KEY,
                           timeout=2.0, max_retries=0)
    models = client.models.list()
    return f"ok ({', '.join(m.id for m in models.data)[:80]})"


CHECKS: dict[str, Callable[[], str]] = {
    "database": _database, "broker": _broker, "workers": _workers, "model_server": _model,
}


def _may_see_details(request: HttpRequest) -> bool:
    if getattr(request.user, "is_staff", False) and request.user.is_active:
        return True
    token = settings.AIOS_HEALTH_TOKEN
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    result: dict[str, dict[str, object]] = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            detail, ok = check(), True
        except Exception as exc:  # noqa: BLE001 - every failure is a "down" with its reason
            detail, ok = f"{exc.__class__.__name__}: {exc}", False
        healthy &= ok
        result[name] = {"ok": ok, "detail": detail, "ms": round((time.monotonic() - started) * 1000, 1)}
    status = 200 if healthy else 503
    if not _may_see_details(request):
        return JsonResponse({"ok": healthy}, status=status)
    return JsonResponse({"ok": healthy, "checks": result}, status=status)
