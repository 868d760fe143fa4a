"""The built-in demo CMS: receives webhooks, verifies them with the reference library, shows them."""
from __future__ import annotations

import json
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from standardwebhooks import Webhook, WebhookVerificationError

from editorial.models import Revision
from editorial.rendering import highlight_findings, render_markdown
from editorial.selectors import draft_get_for_user
from governance.models import Channel, Connector, Delivery, DemoReceipt, Finding, Gate
from governance.permissions import brands_for_user, error_text
from governance.policies import evaluate, rule_set_version_for
from governance.services import (
    InboundReplay,
    delivery_replay,
    draft_retract,
    draft_schedule,
    draft_unschedule,
    finding_override,
    inbound_callback_record,
    review_link_create,
    review_link_decide,
    review_link_get,
)

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
    return render(request, "governance/receiver.html", {"rows": rows})


# --- sign-off side actions --------------------------------------------------------------------

@login_required
@require_POST
def finding_override_view(request: HttpRequest, pk: int, finding_id: int) -> HttpResponse:
    draft = draft_get_for_user(user=request.user, pk=pk)
    finding = get_object_or_404(Finding, pk=finding_id, revision__draft=draft)
    try:
        finding_override(finding=finding, user=request.user, justification=request.POST.get("justification", ""))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Override recorded for “{finding.text or finding.category_label}”.")
    return redirect("editorial:draft", pk=draft.pk)


@login_required
@require_POST
def review_link_create_view(request: HttpRequest, pk: int, gate_id: int) -> HttpResponse:
    draft = draft_get_for_user(user=request.user, pk=pk)
    gate = get_object_or_404(Gate, pk=gate_id, stage__workflow_id=draft.workflow_id)
    try:
        hours = int(request.POST.get("hours") or 72)
        link, token = review_link_create(draft=draft, gate=gate, user=request.user,
                                         recipient=request.POST.get("recipient", ""), hours=hours)
    except ValueError:
        messages.error(request, "The link's lifetime must be a whole number of hours.")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        url = request.build_absolute_uri(reverse("governance:external-review", args=[draft.pk, token]))
        messages.success(
            request,
            f"Review link for {link.recipient} (valid until {link.expires_at:%Y-%m-%d %H:%M} UTC, single use). "
            f"Copy it now; it is not shown again: {url}",
        )
    return redirect("editorial:draft", pk=draft.pk)


@require_http_methods(["GET", "POST"])
def external_review(request: HttpRequest, draft_id: int, token: str) -> HttpResponse:
    """No account needed: the token is the credential, for one gate of one item, once."""
    try:
        link = review_link_get(draft_id=draft_id, token=token)
    except ValidationError as exc:
        return render(request, "governance/external_review.html", {"error": error_text(exc)}, status=410)
    error = ""
    if request.method == "POST":
        try:
            signoff = review_link_decide(draft_id=draft_id, token=token, decision=request.POST.get("decision", ""),
                                         comment=request.POST.get("comment", ""))
        except ValidationError as exc:
            error = error_text(exc)
        else:
            return render(request, "governance/external_review.html", {"done": signoff, "link": link})
    return render(
        request,
        "governance/external_review.html",
        {"link": link, "content_html": render_markdown(link.revision.content), "error": error,
         "comment": request.POST.get("comment", "")},
        status=422 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def policy_check(request: HttpRequest) -> HttpResponse:
    """Run the brand's active rules on pasted text, or on any revision the user may read."""
    brands = brands_for_user(request.user)
    text, channel, brand_id, revision = "", "blog", request.POST.get("brand") or request.GET.get("brand"), None
    if request.GET.get("revision"):
        revision = get_object_or_404(Revision, pk=request.GET["revision"])
        draft = draft_get_for_user(user=request.user, pk=revision.draft_id)
        text, channel, brand_id = revision.content, draft.brief.channel, str(draft.brand_id)
    brand = brands.filter(pk=brand_id).first() if brand_id and str(brand_id).isdigit() else brands.first()
    findings = None
    if request.method == "POST":
        text = request.POST.get("text", "")
        channel = request.POST.get("channel", "blog")
        if channel not in Channel.values:
            channel = "blog"
        findings = evaluate(text, channel=channel, version=rule_set_version_for(brand)) if brand else []
    elif revision is not None:
        findings = evaluate(text, channel=channel, version=rule_set_version_for(brand))
    return render(request, "governance/policy_check.html", {
        "brands": brands, "brand": brand, "channels": Channel.choices, "channel": channel, "text": text,
        "findings": findings, "revision": revision,
        "highlighted": highlight_findings(text, findings or []) if findings is not None else "",
    })


# --- publishing: retract, schedule, dead letters, CMS callbacks ----------------------------

@login_required
@require_POST
def retract_view(request: HttpRequest, pk: int) -> HttpResponse:
    draft = draft_get_for_user(user=request.user, pk=pk)
    try:
        deliveries = draft_retract(draft=draft, user=request.user, reason=request.POST.get("reason", ""))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Retracted. Sending the retraction to {len(deliveries)} CMS connector(s).")
    return redirect("editorial:draft", pk=draft.pk)


@login_required
@require_POST
def schedule_view(request: HttpRequest, pk: int) -> HttpResponse:
    draft = draft_get_for_user(user=request.user, pk=pk)
    try:
        if request.POST.get("cancel"):
            draft_unschedule(draft=draft, user=request.user)
            messages.success(request, "Schedule cancelled.")
        else:
            raw = request.POST.get("publish_at", "")
            when = parse_datetime(raw) if raw else None
            if when is None:
                raise ValidationError({"publish_at": "Give a date and time."})
            if timezone.is_naive(when):
                offset = int(request.POST.get("tz_offset_minutes") or 0)  # the browser's offset from UTC
                when = (when + timedelta(minutes=offset)).replace(tzinfo=dt_timezone.utc)
            draft_schedule(draft=draft, user=request.user, publish_at=when)
            messages.success(request, f"Scheduled for {when.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M} UTC.")
    except ValueError:
        messages.error(request, "That time could not be read.")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    return redirect("editorial:draft", pk=draft.pk)


@login_required
@require_GET
def dead_letters(request: HttpRequest) -> HttpResponse:
    deliveries = (
        Delivery.objects.filter(status=Delivery.Status.DEAD, draft__brand__in=brands_for_user(request.user))
        .select_related("connector", "draft").prefetch_related("attempts").order_by("-created_at")[:200]
    )
    return render(request, "governance/dead_letters.html", {"deliveries": deliveries})


@login_required
@require_POST
def replay_view(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.select_related("draft"), pk=delivery_id)
    draft_get_for_user(user=request.user, pk=delivery.draft_id)  # 404 for other brands
    try:
        delivery_replay(delivery=delivery, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Replaying {delivery.webhook_id} to {delivery.connector.name}.")
    return redirect(request.POST.get("next") or reverse("governance:dead-letters"))


def _problem(status: int, title: str, detail: str) -> JsonResponse:
    return JsonResponse({"type": "about:blank", "title": title, "status": status, "detail": detail}, status=status,
                        content_type="application/problem+json")


@csrf_exempt  # machines sign their requests; there is no browser session to protect
@require_POST
def cms_callback(request: HttpRequest, connector_id: int) -> JsonResponse:
    """A CMS confirms a delivery (with its own id and URL) or reports that it failed."""
    connector = Connector.objects.filter(pk=connector_id).first()
    if connector is None:
        return _problem(404, "Not found", "No such connector.")
    if len(request.body) > MAX_BODY:
        return _problem(413, "Payload too large", f"The body is larger than {MAX_BODY} bytes.")
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        body = request.body.decode("utf-8")
        callback = inbound_callback_record(connector=connector, body=body, headers=headers)
    except UnicodeDecodeError:
        return _problem(400, "Bad request", "The body is not UTF-8 text.")
    except PermissionDenied as exc:
        return _problem(401, "Unauthorized", str(exc))
    except InboundReplay as exc:
        return _problem(409, "Conflict", str(exc))
    except ValidationError as exc:
        return _problem(422, "Unprocessable", " ".join(exc.messages))
    return JsonResponse({"status": callback.status, "delivery": callback.delivery.webhook_id})
