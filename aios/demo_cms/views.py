"""The built-in demo CMS: receives webhooks, verifies them with the reference library, shows them."""
from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from standardwebhooks import Webhook, WebhookVerificationError

from aios.demo_cms.models import DemoReceipt
from governance.models import Connector
from governance.permissions import brands_for_user

MAX_BODY = 2 * 1024 * 1024


@csrf_exempt  # machines sign their requests; there is no browser session to protect
@require_POST
def demo_receiver_inbound(request: HttpRequest, connector_id: int) -> JsonResponse:
    connector = Connector.objects.filter(pk=connector_id).first()
    if connector is None:
        return JsonResponse({"detail": "unknown connector"}, status=404)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"detail": "body too large"}, status=413)
    body = request.body.decode("utf-8", errors="replace")
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("webhook-")}
    error, verified = "", True
    try:
        Webhook(connector.secret).verify(body, headers)
    except WebhookVerificationError as exc:
        error, verified = str(exc), False
    receipt = DemoReceipt.objects.create(
        connector=connector, webhook_id=headers.get("webhook-id", "")[:64], headers=headers, body=body,
        verified=verified, error=error,
    )
    if not verified:
        return JsonResponse({"detail": f"signature not verified: {error}"}, status=401)
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
