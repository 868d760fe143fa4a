"""Model versions: their parameters and fallback, the connection test, and their state (activate,
shadow, retire, roll back).

Every state change checks an object permission, validates the whole new state, and writes its audit
event with the before/after values in the same transaction. A rollback restores the "before" of the
latest recorded change, so the audit trail is the single source of "previous".
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q

from agents.calls.providers import PROVIDERS, ProviderError, Usage, resolve
from agents.models import ModelVersion
from governance.audit import audit_log
from governance.models import AuditEvent
from governance.permissions import user_has_model_or_object_perm

ACTIVATE_MODEL = "agents.activate_modelversion"
Status = ModelVersion.Status

# --- model version parameters and fallback -------------------------------------------------------

# Keys both SDK calls (chat and completions) accept, with their type and range. Anything else would
# make every call fail with a TypeError from the SDK, so it is refused when the version is saved.
KNOWN_PARAMETERS: dict[str, tuple[str, float | None, float | None]] = {
    "temperature": ("number", 0, 2),
    "top_p": ("number", 0, 1),
    "max_tokens": ("integer", 1, 1_000_000),
    "presence_penalty": ("number", -2, 2),
    "frequency_penalty": ("number", -2, 2),
    "seed": ("integer", None, None),
    "stop": ("stop", None, None),
}


def parameters_problems(value: Any) -> list[str]:
    """What is wrong with a model version's `parameters` (empty when fine)."""
    if not isinstance(value, dict):
        return ['Parameters must be a JSON object, e.g. {"temperature": 0.7, "max_tokens": 400}.']
    problems = []
    for key, item in value.items():
        if key not in KNOWN_PARAMETERS:
            problems.append(f"Unknown parameter “{key}”; known: {', '.join(sorted(KNOWN_PARAMETERS))}.")
            continue
        kind, low, high = KNOWN_PARAMETERS[key]
        if kind == "stop":
            ok = isinstance(item, str) or (
                isinstance(item, list) and len(item) <= 4 and all(isinstance(s, str) for s in item)
            )
            if not ok:
                problems.append("“stop” must be a string or a list of at most 4 strings.")
            continue
        if isinstance(item, bool) or not isinstance(item, int | float) or (kind == "integer" and not isinstance(item, int)):
            problems.append(f"“{key}” must be {'an integer' if kind == 'integer' else 'a number'}, not {json.dumps(item)}.")
            continue
        if (low is not None and item < low) or (high is not None and item > high):
            problems.append(f"“{key}” must be between {low:g} and {high:g}; got {item}.")
    return problems


def fallback_problem(*, version: ModelVersion | None, fallback: ModelVersion | None) -> str | None:
    """A fallback to itself, or one whose own fallbacks lead back to this version, is refused."""
    if fallback is None:
        return None
    if version is not None and version.pk is not None and fallback.pk == version.pk:
        return "A model version cannot fall back to itself."
    seen: list[str] = [fallback.name]
    current = fallback
    visited = {fallback.pk}
    while current.fallback_id is not None:
        current = ModelVersion.objects.get(pk=current.fallback_id)
        seen.append(current.name)
        if version is not None and current.pk == version.pk:
            return "This fallback makes a cycle: " + " → ".join([version.name, *seen]) + "."
        if current.pk in visited:
            return "The chosen fallback's own fallbacks make a cycle: " + " → ".join(seen) + "."
        visited.add(current.pk)
    return None


# --- connection test -----------------------------------------------------------------------------

@dataclass
class ConnectionReport:
    ok: bool
    base_url: str
    model: str
    mode: str
    ping_ok: bool = False
    ping_detail: str = ""
    latency_ms: float | None = None
    ttft_ms: float | None = None
    answer: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    error: str = ""


TEST_PROMPT = "Reply with one word: OK."


def modelversion_test_connection(*, version: ModelVersion, timeout: float = 15.0) -> ConnectionReport:
    """List the server's models, then ask for a tiny completion. Saves nothing, logs nothing."""
    try:
        resolved = resolve(version)
    except Exception as exc:  # noqa: BLE001 - a misconfigured version is reported, not raised
        return ConnectionReport(ok=False, base_url=version.base_url, model=version.model, mode=version.mode,
                                error=f"Configuration error: {exc}")
    report = ConnectionReport(ok=False, base_url=resolved.base_url, model=resolved.model, mode=resolved.mode)
    cls = PROVIDERS.get(version.provider)
    if cls is None:
        report.error = f"Unknown provider “{version.provider}”; known: {', '.join(sorted(PROVIDERS))}."
        return report
    if not resolved.base_url:
        report.error = "No base URL is set."
        return report
    try:
        provider = cls(resolved, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - any failure is the report
        report.error = f"Could not create the client: {exc}"
        return report
    report.ping_ok, report.ping_detail = provider.ping(timeout=min(timeout, 5.0))
    usage = Usage()
    started = time.monotonic()
    pieces: list[str] = []
    try:
        for delta in provider.stream(system="", prompt=TEST_PROMPT, max_tokens=8, usage=usage):
            if report.ttft_ms is None:
                report.ttft_ms = (time.monotonic() - started) * 1000
            pieces.append(delta)
    except ProviderError as exc:
        report.error = str(exc)
        report.latency_ms = (time.monotonic() - started) * 1000
        return report
    except Exception as exc:  # noqa: BLE001 - any failure is the report
        report.error = f"Unexpected error: {exc.__class__.__name__}: {exc}"
        return report
    report.latency_ms = (time.monotonic() - started) * 1000
    report.answer = "".join(pieces).strip()
    report.tokens_in, report.tokens_out = usage.prompt_tokens, usage.completion_tokens
    report.ok = True
    if not report.answer:
        report.ok = False
        report.error = "The server answered, but with no text."
    return report


# --- model version state: activate / shadow / retire / roll back ----------------------------------

MODEL_TRANSITIONS = ("activate", "shadow", "retire", "rollback")


def _model_state(version: ModelVersion) -> dict[str, Any]:
    return {"status": version.status, "rollout_share": version.rollout_share}


def may_activate_model(user: Any, version: ModelVersion) -> bool:
    return user_has_model_or_object_perm(user, ACTIVATE_MODEL, version)


def _model_apply(
    *, user: Any, target: ModelVersion, changes: dict[int, dict[str, Any]], action: str, reason: str = "",
    extra: dict[str, Any] | None = None,
) -> AuditEvent:
    """Apply new (status, share) to some versions at once. Locks every version row so concurrent
    changes validate against the same totals. The caller holds the transaction."""
    versions = {v.pk: v for v in ModelVersion.objects.select_for_update().order_by("id")}
    if target.pk not in versions:
        raise ValidationError("This model version no longer exists.")
    before = {pk: _model_state(v) for pk, v in versions.items()}
    after = {pk: dict(state) for pk, state in before.items()}
    for pk, new in changes.items():
        if pk not in versions:
            raise ValidationError(f"Model version #{pk} no longer exists.")
        status = new.get("status", after[pk]["status"])
        if status not in Status.values:
            raise ValidationError(f"Unknown status “{status}”.")
        share = new.get("rollout_share", after[pk]["rollout_share"])
        if isinstance(share, bool) or not isinstance(share, int) or not 0 <= share <= 100:
            raise ValidationError(f"The rollout share of {versions[pk].name} must be a whole number from 0 to 100.")
        # Only active versions take briefs: the share of any other is 0, so totals stay honest.
        after[pk] = {"status": status, "rollout_share": share if status == Status.ACTIVE else 0}
    changed = [pk for pk in after if after[pk] != before[pk]]
    if not changed:
        raise ValidationError("Nothing would change.")
    denied = [versions[pk].name for pk in changed if not may_activate_model(user, versions[pk])]
    if denied:
        raise PermissionDenied(
            "You lack the permission to activate, shadow, retire or roll back: " + ", ".join(denied) + "."
        )
    active = [pk for pk, state in after.items() if state["status"] == Status.ACTIVE]
    if not active:
        raise ValidationError("At least one model version must stay active, or no brief could be written.")
    total = sum(after[pk]["rollout_share"] for pk in active)
    if total > 100:
        detail = ", ".join(f"{versions[pk].name} {after[pk]['rollout_share']}%" for pk in active)
        raise ValidationError(f"The active rollout shares would add up to {total}% ({detail}); at most 100% is possible.")
    for pk in changed:
        version = versions[pk]
        version.status, version.rollout_share = after[pk]["status"], after[pk]["rollout_share"]
        version.save(update_fields=["status", "rollout_share"])
    return audit_log(
        action=f"agents.modelversion.{action}",
        obj=target,
        user=user,
        data={
            "reason": reason.strip(),
            "versions": {
                str(pk): {"name": versions[pk].name, "before": before[pk], "after": after[pk]} for pk in changed
            },
            "active_total_after": total,
            **(extra or {}),
        },
    )


@transaction.atomic
def modelversion_activate(
    *, user: Any, version: ModelVersion, rollout_share: int, others: dict[int, dict[str, Any]] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Make `version` active with `rollout_share`; `others` may change other versions in the same
    step (e.g. lower the old version's share, or retire it) so the total stays within 100%."""
    changes = {**(others or {}), version.pk: {"status": Status.ACTIVE, "rollout_share": rollout_share}}
    return _model_apply(user=user, target=version, changes=changes, action="activate", reason=reason)


@transaction.atomic
def modelversion_shadow(*, user: Any, version: ModelVersion, reason: str = "") -> AuditEvent:
    """Shadow: writes every draft's sections alongside the active version, never shown as the draft."""
    return _model_apply(user=user, target=version, changes={version.pk: {"status": Status.SHADOW}},
                        action="shadow", reason=reason)


@transaction.atomic
def modelversion_retire(*, user: Any, version: ModelVersion, reason: str = "") -> AuditEvent:
    return _model_apply(user=user, target=version, changes={version.pk: {"status": Status.RETIRED}},
                        action="retire", reason=reason)


def modelversion_last_change(version: ModelVersion) -> AuditEvent | None:
    """The latest recorded state change that involved this version (what "Roll back" undoes)."""
    return (
        AuditEvent.objects.filter(
            object_type="agents.modelversion",
            action__in=[f"agents.modelversion.{a}" for a in MODEL_TRANSITIONS],
            data__versions__has_key=str(version.pk),
        )
        .select_related("actor_user")
        .order_by("-id")
        .first()
    )


def modelversion_history(version: ModelVersion, limit: int = 20) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            Q(data__versions__has_key=str(version.pk)) | Q(object_id=str(version.pk)),
            object_type="agents.modelversion",
        )
        .select_related("actor_user")
        .order_by("-id")[:limit]
    )


@transaction.atomic
def modelversion_rollback(*, user: Any, version: ModelVersion, reason: str = "") -> AuditEvent:
    """Restore every version touched by the latest change involving `version` to its state before
    that change. Refused when one of them changed again since (roll that back first)."""
    # Lock every version (in id order, as _model_apply does) before reading what to restore.
    list(ModelVersion.objects.select_for_update().order_by("id").values_list("id", flat=True))
    event = modelversion_last_change(version)
    if event is None:
        raise ValidationError(f"No recorded change of {version.name} to roll back.")
    current = {v.pk: v for v in ModelVersion.objects.filter(pk__in=[int(pk) for pk in event.data["versions"]])}
    changes: dict[int, dict[str, Any]] = {}
    for pk_text, entry in event.data["versions"].items():
        other = current.get(int(pk_text))
        if other is None:
            raise ValidationError(f"{entry['name']} no longer exists; nothing was rolled back.")
        if _model_state(other) != entry["after"]:
            raise ValidationError(
                f"{other.name} changed again since (now {other.status}, {other.rollout_share}%): "
                "roll back that later change first. Nothing was rolled back."
            )
        changes[other.pk] = dict(entry["before"])
    return _model_apply(user=user, target=version, changes=changes, action="rollback", reason=reason,
                        extra={"rolled_back_event": event.pk, "rolled_back_action": event.action})


def modelversion_audit_save(*, user: Any, version: ModelVersion, created: bool, changes: dict[str, Any]) -> None:
    """Audit an admin edit of a version's configuration (never of its state: that goes above)."""
    audit_log(action="agents.modelversion.create" if created else "agents.modelversion.change", obj=version,
              user=user, data={"changes": changes})
