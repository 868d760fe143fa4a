"""The governance part of /api/v1: policy checks, sign-offs, publishing and the delivery ledger.

Same selectors, gates and services as the HTML views, so the API allows exactly what the pages
allow; every route first names the token scope it needs (`api_scope_required`).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Path, Router, Status

from editorial import selectors
from editorial.models import Draft
from editorial.schemas import SLUG, errors
from governance.gates import gate_states, get_actions, unresolved_blocking_findings
from governance.models import Connector, Delivery, Finding, Gate, SignOff
from governance.permissions import api_scope_required, gate_policy
from governance.policies import evaluate, rule_set_version_for
from governance.publishing.publish import draft_publish, draft_retract, draft_schedule, draft_unschedule
from governance.schemas import (
    ActionsOut,
    DeliveriesOut,
    DeliveryOut,
    EvaluateIn,
    EvaluationOut,
    PublishIn,
    RetractIn,
    ScheduleIn,
    ScheduleOut,
    SignOffIn,
    SignOffOut,
)
from governance.signoffs import signoff_record

router = Router(tags=["governance"])

SCHEDULE_HORIZON = timedelta(days=5 * 366)


# --- shapes -----------------------------------------------------------------------------------------

def _signoff_ref(signoff: SignOff) -> dict[str, Any]:
    return {
        "id": signoff.pk, "decision": signoff.decision, "revision": signoff.revision_id, "comment": signoff.comment,
        "by": (signoff.user.username if signoff.user else f"policy: {signoff.policy}" if signoff.policy
               else f"external: {signoff.external_recipient}"),
        "created_at": signoff.created_at,
    }


def _delivery_out(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "connector": {"id": delivery.connector_id, "name": delivery.connector.name},
        "event_type": delivery.event_type, "webhook_id": delivery.webhook_id, "revision": delivery.revision_id,
        "status": delivery.status, "attempt_count": delivery.attempt_count,
        "next_attempt_at": delivery.next_attempt_at, "remote_id": delivery.remote_id,
        "remote_url": delivery.remote_url, "created_at": delivery.created_at, "delivered_at": delivery.delivered_at,
        "attempts": [
            {"number": a.number, "status_code": a.status_code, "latency_ms": a.latency_ms,
             "excerpt": a.response_excerpt, "error": a.error, "created_at": a.created_at}
            for a in delivery.attempts.all()
        ],
    }


def _deliveries_out(draft: Draft, deliveries: list[Delivery]) -> dict[str, Any]:
    draft.refresh_from_db(fields=["status"])
    ids = [d.pk for d in deliveries]
    fresh = Delivery.objects.filter(pk__in=ids).select_related("connector").prefetch_related("attempts")
    return {"draft": draft.pk, "status": draft.status,
            "deliveries": [_delivery_out(d) for d in fresh.order_by("id")]}


def _schedule_out(draft: Draft) -> dict[str, Any]:
    return {
        "draft": draft.pk, "status": draft.status, "publish_at": draft.publish_at,
        "publish_requested_by": draft.publish_requested_by.username if draft.publish_requested_by else None,
    }


# --- policy checks ----------------------------------------------------------------------------------

@router.post("/drafts/{draft_id}/evaluate", operation_id="evaluateDraft",
             response={200: EvaluationOut, **errors(404, 422)})
def evaluate_draft(request: HttpRequest, draft_id: int, payload: EvaluateIn):
    """Run the brand's active rules on a revision of the draft, or on text (say, an edit in progress).
    Returns the findings; nothing is saved."""
    api_scope_required(request, "write")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id)
    if payload.revision is not None:
        revision = selectors.revision_get_for_draft(draft=draft, pk=payload.revision)
        text = revision.content
    else:
        revision, text = None, payload.text or ""
    channel = payload.channel or draft.brief.channel
    version = rule_set_version_for(draft.brand)
    findings = evaluate(text, channel=channel, version=version, brand=draft.brand)
    return {
        "draft": draft.pk,
        "revision": revision.pk if revision else None,
        "channel": channel,
        "rule_set_version": None if version is None else {
            "id": version.pk, "rule_set": version.rule_set.name, "number": version.number,
        },
        "blocking": sum(1 for f in findings if f.severity == Finding.Severity.BLOCKING),
        "findings": [
            {"category": f.category, "severity": f.severity, "start": f.start, "end": f.end, "text": f.text,
             "message": f.message, "suggestion": f.suggestion}
            for f in findings
        ],
    }


# --- sign-offs --------------------------------------------------------------------------------------

@router.get("/drafts/{draft_id}/actions", operation_id="listDraftActions", response={200: ActionsOut, **errors(404)})
def draft_actions(request: HttpRequest, draft_id: int):
    """Each gate that applies to the draft: where it stands, why it applies, and what you may do now."""
    api_scope_required(request, "read")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id)
    blocking = unresolved_blocking_findings(draft)
    gates = []
    for state in gate_states(draft):
        gates.append({
            "gate": state.gate.slug, "name": state.gate.name, "stage": state.stage_order, "hard": state.is_hard,
            "status": state.status, "reason": state.reason,
            "can_sign": gate_policy.user_can_sign(request.user, state.gate, draft),
            "actions": get_actions(draft, state, request.user, blocking=blocking),
            "signoff": _signoff_ref(state.signoff) if state.signoff else None,
        })
    return {"draft": draft.pk, "status": draft.status, "revision": draft.current_revision_id,
            "blocking_findings": len(blocking), "gates": gates}


def _sign(request: HttpRequest, draft_id: int, gate_slug: str, payload: SignOffIn, decision: str):
    api_scope_required(request, "sign-off")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id)
    gate = (
        Gate.objects.filter(stage__workflow_id=draft.workflow_id, slug=gate_slug).order_by("stage__order", "id").first()
        if draft.workflow_id else None
    )
    if gate is None:
        raise Http404("No such gate in this draft's workflow.")
    signoff = signoff_record(draft=draft, gate=gate, user=request.user, decision=decision,
                                      revision_id=payload.revision, comment=payload.comment)
    draft.refresh_from_db(fields=["status"])
    return Status(201, {**_signoff_ref(signoff), "gate": gate.slug, "draft_status": draft.status})


def gate_slug_param() -> Any:
    return Path(..., max_length=60, pattern=SLUG, description="The gate's slug, as GET …/actions lists it")


SIGNOFF_RESPONSES = {201: SignOffOut, **errors(404, 422)}


@router.post("/drafts/{draft_id}/gates/{gate_slug}/approve", operation_id="approveGate", response=SIGNOFF_RESPONSES)
def approve(request: HttpRequest, draft_id: int, payload: SignOffIn, gate_slug: str = gate_slug_param()):
    """Approve the gate for `revision`, which must be the current one. 403 unless you are in the gate's
    group; 422 while blocking findings stand, an earlier stage is open, or the draft is not in review."""
    return _sign(request, draft_id, gate_slug, payload, SignOff.Decision.APPROVE)


@router.post("/drafts/{draft_id}/gates/{gate_slug}/request-changes", operation_id="requestGateChanges",
             response=SIGNOFF_RESPONSES)
def request_changes(request: HttpRequest, draft_id: int, payload: SignOffIn, gate_slug: str = gate_slug_param()):
    """Send the draft back for changes; `comment` (the reason) is required."""
    return _sign(request, draft_id, gate_slug, payload, SignOff.Decision.REQUEST_CHANGES)


@router.post("/drafts/{draft_id}/gates/{gate_slug}/reject", operation_id="rejectGate", response=SIGNOFF_RESPONSES)
def reject(request: HttpRequest, draft_id: int, payload: SignOffIn, gate_slug: str = gate_slug_param()):
    """Reject the draft; `comment` (the reason) is required."""
    return _sign(request, draft_id, gate_slug, payload, SignOff.Decision.REJECT)


# --- publishing -------------------------------------------------------------------------------------

@router.post("/drafts/{draft_id}/publish", operation_id="publishArtifact",
             response={202: DeliveriesOut, **errors(404, 422)})
def publish(request: HttpRequest, draft_id: int, payload: PublishIn | None = None):
    """Publish the approved current revision to the brand's active connectors, or to the `connectors`
    given (each must be an active connector of the brand). Deliveries go out in the background: 202."""
    api_scope_required(request, "publish")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id, action="publish")
    connector_ids = payload.connectors if payload is not None else None
    if connector_ids:
        active = Connector.objects.filter(brand=draft.brand, is_active=True, pk__in=connector_ids)
        known = set(active.values_list("pk", flat=True))
        unknown = sorted(set(connector_ids) - known)
        if unknown:
            raise ValidationError({"connectors": f"Not active connectors of this brand: {unknown}"})
    deliveries = draft_publish(draft=draft, user=request.user, connector_ids=connector_ids)
    return Status(202, _deliveries_out(draft, deliveries))


@router.post("/drafts/{draft_id}/retract", operation_id="retractArtifact",
             response={202: DeliveriesOut, **errors(404, 422)})
def retract(request: HttpRequest, draft_id: int, payload: RetractIn):
    """Unpublish: every connector that received the piece gets a `retracted` event, in the background."""
    api_scope_required(request, "publish")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id, action="publish")
    deliveries = draft_retract(draft=draft, user=request.user, reason=payload.reason)
    return Status(202, _deliveries_out(draft, deliveries))


@router.post("/drafts/{draft_id}/schedule", operation_id="scheduleDraft",
             response={200: ScheduleOut, **errors(404, 422)})
def schedule(request: HttpRequest, draft_id: int, payload: ScheduleIn):
    """Publish the approved draft at `publish_at` (in the future, at most five years ahead), on your behalf."""
    api_scope_required(request, "publish")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id, action="publish")
    if payload.publish_at > timezone.now() + SCHEDULE_HORIZON:
        raise ValidationError({"publish_at": "Schedule at most five years ahead."})
    draft = draft_schedule(draft=draft, user=request.user, publish_at=payload.publish_at)
    return _schedule_out(draft)


@router.delete("/drafts/{draft_id}/schedule", operation_id="unscheduleDraft",
               response={200: ScheduleOut, **errors(404, 422)})
def unschedule(request: HttpRequest, draft_id: int):
    """Cancel the scheduled publication (422 when none is scheduled)."""
    api_scope_required(request, "publish")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id, action="publish")
    draft = draft_unschedule(draft=draft, user=request.user)
    return _schedule_out(draft)


@router.get("/drafts/{draft_id}/deliveries", operation_id="listDeliveries",
            response={200: list[DeliveryOut], **errors(404)})
def deliveries(request: HttpRequest, draft_id: int):
    """The delivery ledger: each webhook delivery of the draft, oldest first, with every attempt."""
    api_scope_required(request, "read")
    draft = selectors.draft_get_for_user(user=request.user, pk=draft_id)
    ledger = draft.deliveries.select_related("connector").prefetch_related("attempts").order_by("created_at", "id")
    return [_delivery_out(d) for d in ledger]
