"""The built-in demo CMS: receives webhooks, verifies them with the reference library, shows them.

Anyone can post to the receiver, so what it keeps is bounded: a verified post (signed with the connector's
secret) is kept whole; an unverified one only as a short record (its first UNVERIFIED_KEEP_CHARS characters,
the webhook-* headers cut short, the reason), at most UNVERIFIED_PER_MINUTE a minute per connector (beyond
that it is answered 401 and not kept) and only the UNVERIFIED_KEPT newest per connector."""
from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from standardwebhooks import Webhook, WebhookVerificationError

from aios.demo_cms.models import DemoReceipt
from governance.models import Connector
from governance.permissions import brands_for_user
from governance.publishing.views import body_within_limit

MAX_BODY = 2 * 1024 * 1024
UNVERIFIED_KEEP_CHARS = 1000
UNVERIFIED_PER_MINUTE = 10
UNVERIFIED_KEPT = 50


def _unverified_slot(connector: Connector) -> bool:
    """True while this connector's unverified posts of the current minute stay within the rate."""
    key = f"demo-cms:unverified:{connector.pk}"
    cache.add(key, 0, timeout=60)
    try:
        return cache.incr(key) <= UNVERIFIED_PER_MINUTE
    except ValueError:  # the minute ended between the two calls
        return True


def _unverified_keep(connector: Connector, *, webhook_id: str, headers: dict, body: str, error: str) -> None:
    DemoReceipt.objects.create(
        connector=connector, webhook_id=webhook_id, verified=False, error=error[:500],
        headers={k[:64]: v[:200] for k, v in list(headers.items())[:10]}, body=body[:UNVERIFIED_KEEP_CHARS],
    )
    stale = DemoReceipt.objects.filter(connector=connector, verified=False).order_by("-received_at", "-pk")
    DemoReceipt.objects.filter(pk__in=stale.values_list("pk", flat=True)[UNVERIFIED_KEPT:]).delete()


@csrf_exempt  # machines sign their requests; there is no browser session to protect
@require_POST
def demo_receiver_inbound(request: HttpRequest, connector_id: int) -> JsonResponse:
    connector = Connector.objects.filter(pk=connector_id).first()
    if connector is None:
        return JsonResponse({"detail": "unknown connector"}, status=404)
    raw = body_within_limit(request, MAX_BODY)
    if raw is None:
        return JsonResponse({"detail": f"body larger than {MAX_BODY} bytes"}, status=413)
    # Verified against the bytes as sent; kept for display (PostgreSQL text holds no NUL).
    sent = raw.decode("utf-8", errors="replace")
    body = sent.replace("\x00", "\ufffd")
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("webhook-")}
    webhook_id = headers.get("webhook-id", "")[:64]
    try:
        Webhook(connector.secret).verify(sent, headers)
    except WebhookVerificationError as exc:
        if _unverified_slot(connector):
            _unverified_keep(connector, webhook_id=webhook_id, headers=headers, body=body, error=str(exc))
        return JsonResponse({"detail": f"signature not verified: {exc}"}, status=401)
    receipt = DemoReceipt.objects.create(
        connector=connector, webhook_id=webhook_id, headers=headers, body=body, verified=True, error="",
    )
    return JsonResponse(
        {"id": f"demo-{receipt.pk}", "url": f"/demo/receiver/#receipt-{receipt.pk}"}, status=200
    )


@login_required
@require_GET
def demo_receiver_page(request: HttpRequest) -> HttpResponse:
    receipts = DemoReceipt.objects.filter(connector__brand__in=brands_for_user(request.user)).select_related(
        "connector"
    )[:50]
    rows = []
    seen: dict[str, int] = {}
    for r in reversed(list(receipts)):  # oldest first, so the first arrival is the original
        seen[r.webhook_id] = seen.get(r.webhook_id, 0) + 1
        r.duplicate = seen[r.webhook_id] > 1
    for r in receipts:
        try:
            payload = json.loads(r.body)
        except ValueError:
            payload = {}
        rows.append({"receipt": r, "payload": payload, "data": payload.get("data", {}) if isinstance(payload, dict) else {}})
    return render(request, "demo_cms/receiver.html", {"rows": rows})
