"""HTML views of publishing: retract and schedule from the draft page, the dead-letter list and
replay, and the signed hook where a CMS confirms or fails a delivery."""
from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from editorial.draftpage import draft_page_render
from editorial.selectors import draft_get_for_user
from editorial.views.redirects import next_url
from governance.models import Connector, Delivery
from governance.permissions import brands_for_user, error_text
from governance.publishing.delivery import InboundReplay, delivery_replay, inbound_callback_record
from governance.publishing.publish import draft_retract, draft_schedule, draft_unschedule

MAX_BODY = 2 * 1024 * 1024


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
    # The right comes first: someone who may not publish is refused before anything is read.
    draft = draft_get_for_user(user=request.user, pk=pk, action="publish")
    try:
        if request.POST.get("cancel"):
            draft_unschedule(draft=draft, user=request.user)
            messages.success(request, "Schedule cancelled.")
        else:
            when = _publish_at(request)
            draft_schedule(draft=draft, user=request.user, publish_at=when)
            messages.success(request, f"Scheduled for {when.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M} UTC.")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return draft_page_render(request, draft, status=403 if isinstance(exc, PermissionDenied) else 400)
    return redirect("editorial:draft", pk=draft.pk)


def _publish_at(request: HttpRequest) -> datetime:
    """The form's time; a naive one is in the browser's offset from UTC (at most a day either way)."""
    raw = request.POST.get("publish_at", "")
    try:
        when = parse_datetime(raw) if raw else None
        if when is not None and timezone.is_naive(when):
            offset = int(request.POST.get("tz_offset_minutes") or 0)
            if abs(offset) > 24 * 60:
                raise ValueError("offset out of range")
            when = (when + timedelta(minutes=offset)).replace(tzinfo=dt_timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise ValidationError({"publish_at": "That time could not be read."}) from exc
    if when is None:
        raise ValidationError({"publish_at": "Give a date and time."})
    return when


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
    return redirect(next_url(request, reverse("governance:dead-letters")))  # never another site


def body_within_limit(request: HttpRequest, limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` bytes (told by its Content-Length before
    reading, or by Django refusing to read past DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    try:
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            return None
    except ValueError:
        pass
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return body if len(body) <= limit else None


def problem_json(status: int, title: str, detail: str) -> JsonResponse:
    """A problem+json answer for the signed machine callbacks (CMS hooks, experiment outcomes)."""
    return JsonResponse({"type": "about:blank", "title": title, "status": status, "detail": detail}, status=status,
                        content_type="application/problem+json")


@csrf_exempt  # machines sign their requests; there is no browser session to protect
@require_POST
def cms_callback(request: HttpRequest, connector_id: int) -> JsonResponse:
    """A CMS confirms a delivery (with its own id and URL) or reports that it failed."""
    connector = Connector.objects.filter(pk=connector_id).first()
    if connector is None:
        return problem_json(404, "Not found", "No such connector.")
    raw = body_within_limit(request, MAX_BODY)
    if raw is None:
        return problem_json(413, "Payload too large", f"The body is larger than {MAX_BODY} bytes.")
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        body = raw.decode("utf-8")
        callback = inbound_callback_record(connector=connector, body=body, headers=headers)
    except UnicodeDecodeError:
        return problem_json(400, "Bad request", "The body is not UTF-8 text.")
    except PermissionDenied as exc:
        return problem_json(401, "Unauthorized", str(exc))
    except InboundReplay as exc:
        return problem_json(409, "Conflict", str(exc))
    except ValidationError as exc:
        return problem_json(422, "Unprocessable", " ".join(exc.messages))
    return JsonResponse({"status": callback.status, "delivery": callback.delivery.webhook_id})
