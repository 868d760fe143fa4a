"""Model operations: model versions (state changes, rollback, connection test), prompt template
versions (create, activate, roll back, preview) and rollback impact (what a version produced, and
sending it all back to review).

Every state change here checks an object permission, validates the whole new state, and writes
its audit event with the before/after values in the same transaction. A rollback restores the
"before" of the latest recorded change, so the audit trail is the single source of "previous".
"""
from __future__ import annotations

import json
import logging
import string
import time
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from agents.models import AgentRun, ModelVersion, PromptTemplate, PromptTemplateVersion
from agents.pipeline.prompts import BRIEF_FIELDS, render_section_prompt, variable_defaults
from agents.calls.providers import PROVIDERS, ProviderError, Usage, resolve
from editorial.realtime import push_draft_event
from governance.audit import audit_log
from governance.models import AuditEvent
from governance.permissions import user_has_model_or_object_perm

log = logging.getLogger(__name__)

ACTIVATE_MODEL = "agents.activate_modelversion"
ACTIVATE_TEMPLATE = "agents.activate_prompttemplate"
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


# --- prompt templates ----------------------------------------------------------------------------

def prompttemplate_audit_save(*, user: Any, template: PromptTemplate, created: bool, changed: list[str]) -> None:
    """Audit an admin edit of a template's name or description (versions have their own services)."""
    audit_log(action="agents.prompttemplate.create" if created else "agents.prompttemplate.change", obj=template,
              user=user, data={"changed": changed})



_SCHEMA_TYPES = {"string", "number", "integer", "boolean", "array", "object"}


def schema_problems(schema: Any) -> list[str]:
    """Whether a template's variables schema is a usable JSON schema of flat variables: an object
    schema with typed properties. (The `jsonschema` package is not installed, so this checks the
    subset the templates use: type, enum, default, min/max, minLength/maxLength, pattern, required.)"""
    if schema in ({}, None):
        return []
    if not isinstance(schema, dict):
        return ["The variables schema must be a JSON object."]
    problems = []
    if schema.get("type", "object") != "object":
        problems.append('The variables schema must describe an object: "type": "object".')
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        return problems + ['"properties" must be an object mapping variable names to their schemas.']
    for name, prop in properties.items():
        if not name.isidentifier():
            problems.append(f"Variable name “{name}” must be a plain identifier (letters, digits, _).")
        if name in BRIEF_FIELDS:
            problems.append(f"Variable “{name}” clashes with a brief field of the same name.")
        if not isinstance(prop, dict):
            problems.append(f"The schema of “{name}” must be an object.")
            continue
        kind = prop.get("type")
        if kind is not None and kind not in _SCHEMA_TYPES:
            problems.append(f"“{name}” has unknown type “{kind}”; use one of {', '.join(sorted(_SCHEMA_TYPES))}.")
        if "enum" in prop and (not isinstance(prop["enum"], list) or not prop["enum"]):
            problems.append(f"“{name}”: enum must be a non-empty list.")
        for key in ("minimum", "maximum"):
            if key in prop and (isinstance(prop[key], bool) or not isinstance(prop[key], int | float)):
                problems.append(f"“{name}”: {key} must be a number.")
        for key in ("minLength", "maxLength"):
            if key in prop and (isinstance(prop[key], bool) or not isinstance(prop[key], int) or prop[key] < 0):
                problems.append(f"“{name}”: {key} must be a whole number ≥ 0.")
        if "pattern" in prop:
            import re

            try:
                re.compile(prop["pattern"])
            except (re.error, TypeError) as exc:
                problems.append(f"“{name}”: pattern is not a valid regular expression ({exc}).")
        if "default" in prop and not problems:
            problems += [f"Default of {p}" for p in _value_problems(name, prop, prop["default"])]
    required = schema.get("required", [])
    if not isinstance(required, list) or any(r not in properties for r in required if isinstance(r, str)):
        problems.append('"required" must list names that appear in "properties".')
    return problems


def _value_problems(name: str, prop: dict[str, Any], value: Any) -> list[str]:
    kind = prop.get("type")
    checks = {
        "string": lambda v: isinstance(v, str),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    if kind in checks and not checks[kind](value):
        return [f"“{name}” must be of type {kind}; got {json.dumps(value)}."]
    problems = []
    if "enum" in prop and value not in prop["enum"]:
        problems.append(f"“{name}” must be one of {json.dumps(prop['enum'])}; got {json.dumps(value)}.")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in prop and value < prop["minimum"]:
            problems.append(f"“{name}” must be ≥ {prop['minimum']}; got {value}.")
        if "maximum" in prop and value > prop["maximum"]:
            problems.append(f"“{name}” must be ≤ {prop['maximum']}; got {value}.")
    if isinstance(value, str):
        if "minLength" in prop and len(value) < prop["minLength"]:
            problems.append(f"“{name}” must have at least {prop['minLength']} characters.")
        if "maxLength" in prop and len(value) > prop["maxLength"]:
            problems.append(f"“{name}” must have at most {prop['maxLength']} characters.")
        if "pattern" in prop:
            import re

            if not re.search(prop["pattern"], value):
                problems.append(f"“{name}” must match the pattern {prop['pattern']}.")
    return problems


def variables_problems(schema: Any, values: Any) -> list[str]:
    """Whether a brief's variables satisfy the template's schema."""
    if not isinstance(values, dict):
        return ["Variables must be a JSON object."]
    if not schema:
        return [f"Unknown variable “{k}”: this version declares no variables." for k in values]
    properties = schema.get("properties", {})
    problems = [f"Missing required variable “{r}”." for r in schema.get("required", [])
                if r not in values and "default" not in properties.get(r, {})]
    for key, value in values.items():
        if key not in properties:
            if schema.get("additionalProperties", True) is False:
                problems.append(f"Unknown variable “{key}”.")
            continue
        problems += _value_problems(key, properties[key], value)
    return problems


def _placeholders(text: str, label: str) -> tuple[set[str], list[str]]:
    try:
        names = {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}
    except ValueError as exc:
        return set(), [f"{label}: {exc} (write literal braces as {{{{ and }}}})."]
    return names, []


def template_version_problems(
    *, system_text: str, sections: Any, section_prompt: str, chat_prompt: str, variables: Any
) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if not isinstance(sections, list) or not sections:
        problems["sections"] = ['Sections must be a non-empty JSON list of {"heading": …, "instruction": …}.']
    else:
        bad = [i + 1 for i, s in enumerate(sections)
               if not isinstance(s, dict) or not isinstance(s.get("heading"), str) or not s["heading"].strip()
               or not isinstance(s.get("instruction", ""), str) or set(s) - {"heading", "instruction"}]
        if bad:
            problems["sections"] = [(f"Section {', '.join(map(str, bad))}: each needs a non-empty “heading” and "
                                     "may have an “instruction” (text); no other keys.")]
    schema_errors = schema_problems(variables)
    if schema_errors:
        problems["variables"] = schema_errors
    known = set(BRIEF_FIELDS) | set((variables or {}).get("properties", {}) if isinstance(variables, dict) else {})
    if not section_prompt.strip():
        problems.setdefault("section_prompt", []).append("The section prompt is required.")
    for field_name, text in (("system_text", system_text), ("section_prompt", section_prompt),
                             ("chat_prompt", chat_prompt)):
        names, errors = _placeholders(text, "Braces")
        unknown = sorted(names - known)
        if unknown:
            errors.append("Unknown placeholder" + ("s " if len(unknown) > 1 else " ")
                          + ", ".join("{" + n + "}" for n in unknown)
                          + f"; use brief fields ({', '.join(BRIEF_FIELDS)}) or declared variables.")
        if errors:
            problems.setdefault(field_name, []).extend(errors)
    return problems


def may_activate_template(user: Any, template: PromptTemplate) -> bool:
    return user_has_model_or_object_perm(user, ACTIVATE_TEMPLATE, template)


@transaction.atomic
def prompttemplate_version_create(
    *, user: Any, template: PromptTemplate, system_text: str, sections: Any, section_prompt: str,
    chat_prompt: str = "", variables: Any = None, outline_checkpoint: bool = False, note: str = "",
    based_on: PromptTemplateVersion | None = None,
) -> PromptTemplateVersion:
    """A new immutable version (not active until activated)."""
    if not user.has_perm("agents.add_prompttemplateversion"):
        raise PermissionDenied("You cannot add prompt template versions.")
    variables = variables or {}
    problems = template_version_problems(system_text=system_text, sections=sections, section_prompt=section_prompt,
                                         chat_prompt=chat_prompt, variables=variables)
    if problems:
        raise ValidationError(problems)
    template = PromptTemplate.objects.select_for_update().get(pk=template.pk)
    last = template.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = PromptTemplateVersion.objects.create(
        template=template, number=last + 1, system_text=system_text, sections=sections,
        section_prompt=section_prompt, chat_prompt=chat_prompt, variables=variables,
        outline_checkpoint=outline_checkpoint, note=note.strip()[:200], created_by=user,
    )
    audit_log(action="agents.prompttemplate.version_create", obj=template, user=user,
              data={"version": {"id": version.pk, "number": version.number},
                    "based_on": {"id": based_on.pk, "number": based_on.number} if based_on else None})
    return version


def _version_ref(version: PromptTemplateVersion | None) -> dict[str, Any] | None:
    return {"id": version.pk, "number": version.number} if version else None


def _template_set_active(
    *, user: Any, template: PromptTemplate, version: PromptTemplateVersion, action: str, reason: str,
    extra: dict[str, Any] | None = None,
) -> AuditEvent:
    template = PromptTemplate.objects.select_for_update(of=("self",)).select_related("active_version").get(pk=template.pk)
    if not may_activate_template(user, template):
        raise PermissionDenied(f"You lack the permission to activate versions of “{template.name}”.")
    if version.template_id != template.pk:
        raise ValidationError("That version belongs to another template.")
    if template.active_version_id == version.pk:
        raise ValidationError(f"v{version.number} is already the active version.")
    if not version.sections:
        raise ValidationError(f"v{version.number} has no sections; a brief could not be planned with it.")
    before = template.active_version
    template.active_version = version
    template.save(update_fields=["active_version"])
    return audit_log(action=f"agents.prompttemplate.{action}", obj=template, user=user,
                     data={"reason": reason.strip(), "before": {"active_version": _version_ref(before)},
                           "after": {"active_version": _version_ref(version)}, **(extra or {})})


@transaction.atomic
def prompttemplate_activate(
    *, user: Any, template: PromptTemplate, version: PromptTemplateVersion, reason: str = ""
) -> AuditEvent:
    """New briefs of this template use `version` from now on (drafts keep the version they had)."""
    return _template_set_active(user=user, template=template, version=version, action="activate", reason=reason)


def prompttemplate_last_change(template: PromptTemplate) -> AuditEvent | None:
    return (
        AuditEvent.objects.filter(
            object_type="agents.prompttemplate", object_id=str(template.pk),
            action__in=["agents.prompttemplate.activate", "agents.prompttemplate.rollback"],
        )
        .select_related("actor_user")
        .order_by("-id")
        .first()
    )


@transaction.atomic
def prompttemplate_rollback(*, user: Any, template: PromptTemplate, reason: str = "") -> AuditEvent:
    """Point the template back at the version that was active before its latest activation."""
    template = PromptTemplate.objects.select_for_update().get(pk=template.pk)
    event = prompttemplate_last_change(template)
    if event is None or not event.data["before"]["active_version"]:
        raise ValidationError(f"No earlier active version of “{template.name}” is recorded; nothing to roll back to.")
    if event.data["after"]["active_version"]["id"] != template.active_version_id:
        raise ValidationError("The active version changed outside the recorded history; activate a version instead.")
    previous = PromptTemplateVersion.objects.get(pk=event.data["before"]["active_version"]["id"])
    return _template_set_active(user=user, template=template, version=previous, action="rollback", reason=reason,
                                extra={"rolled_back_event": event.pk})


# --- preview ------------------------------------------------------------------------------------

@dataclass
class RenderedSection:
    heading: str
    instruction: str
    system: str
    prompt: str

    @property
    def completion_text(self) -> str:
        """What a completion model receives (see OpenAICompatibleProvider.stream)."""
        return f"{self.system}\n\n{self.prompt}" if self.system else self.prompt


@dataclass
class Preview:
    version: PromptTemplateVersion
    chat: list[RenderedSection] = field(default_factory=list)
    completion: list[RenderedSection] = field(default_factory=list)
    schema_problems: list[str] = field(default_factory=list)
    variable_problems: list[str] = field(default_factory=list)


def prompttemplate_preview(
    *, version: PromptTemplateVersion, brief: Any, variables: dict[str, Any] | None = None,
    sources: list[dict[str, Any]] | None = None,
) -> Preview:
    """Exactly what each section sends to a chat model and to a completion model."""

    variables = variables or {}
    preview = Preview(version=version, schema_problems=schema_problems(version.variables))
    if not preview.schema_problems:
        preview.variable_problems = variables_problems(version.variables, variables)
    for section in version.sections or []:
        for mode, out in (("chat", preview.chat), ("completion", preview.completion)):
            system, prompt = render_section_prompt(
                version=version, brief=brief, heading=section.get("heading", ""),
                instruction=section.get("instruction", ""), sources=sources or [], mode=mode, variables=variables,
            )
            out.append(RenderedSection(heading=section.get("heading", ""), instruction=section.get("instruction", ""),
                                       system=system, prompt=prompt))
    return preview


# --- rollback impact -----------------------------------------------------------------------------

@dataclass
class ImpactRow:
    draft: Any
    via: list[str]

    @property
    def was_published(self) -> bool:
        return self.draft.published_revision_id is not None


def _impact_filter(*, model_version: ModelVersion | None, prompt_version: PromptTemplateVersion | None) -> Q:
    if (model_version is None) == (prompt_version is None):
        raise ValueError("Give exactly one of model_version and prompt_version.")
    if model_version is not None:
        return Q(model_version=model_version) | Q(revisions__author_run__model_version=model_version)
    return Q(prompt_version=prompt_version) | Q(revisions__author_run__prompt_version=prompt_version)


def rollback_impact(
    *, model_version: ModelVersion | None = None, prompt_version: PromptTemplateVersion | None = None
) -> list[ImpactRow]:
    """Every draft (and so every published piece) the version produced: drafts assigned to it, and
    drafts with a revision written by a run that used it."""
    from editorial.models import Draft, Revision

    drafts = list(
        Draft.objects.filter(_impact_filter(model_version=model_version, prompt_version=prompt_version))
        .distinct()
        .select_related("brand", "model_version", "prompt_version__template", "current_revision",
                        "published_revision")
        .order_by("-created_at", "-id")
    )
    run_field = "author_run__model_version" if model_version is not None else "author_run__prompt_version"
    target = model_version or prompt_version
    by_draft: dict[int, list[int]] = {}
    for draft_id, number in (Revision.objects.filter(draft__in=drafts, **{run_field: target})
                             .order_by("number").values_list("draft_id", "number")):
        by_draft.setdefault(draft_id, []).append(number)
    rows = []
    for draft in drafts:
        via = []
        if (draft.model_version_id if model_version is not None else draft.prompt_version_id) == target.pk:
            via.append("assigned to this version")
        if by_draft.get(draft.pk):
            via.append("wrote " + ", ".join(f"r{n}" for n in by_draft[draft.pk]))
        rows.append(ImpactRow(draft=draft, via=via))
    return rows


def version_label(*, model_version: ModelVersion | None = None,
                  prompt_version: PromptTemplateVersion | None = None) -> str:
    if model_version is not None:
        return f"model version “{model_version.name}”"
    return f"prompt template “{prompt_version.template.name}” v{prompt_version.number}"


def _skip_reason(draft: Any) -> str | None:
    from editorial.models import Draft

    S = Draft.Status
    return {
        S.GENERATING: "still generating: it is sent back once it has text, if you run this again then",
        S.OUTLINE_REVIEW: "its outline waits for approval; it has no text yet",
        S.FAILED: "its generation failed; it has no reviewed text",
        S.NEEDS_HUMAN: "its generation stopped and needs a human; it has no reviewed text",
        S.CHANGES_REQUESTED: "changes were already requested; its next revision goes through review anyway",
        S.REJECTED: "it was rejected and will not be published",
        S.RETRACTED: "it was retracted and is no longer at the CMS",
    }.get(draft.status) if draft.current_revision_id or draft.status == S.GENERATING else "it has no text yet"


SEND_BACK_STATUSES = ("in_review", "approved", "published")


@dataclass
class SendBackPlan:
    to_move: list[Any]
    to_skip: list[tuple[Any, str]]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for draft in self.to_move:
            out[draft.get_status_display()] = out.get(draft.get_status_display(), 0) + 1
        return out


def send_back_plan(*, model_version: ModelVersion | None = None,
                   prompt_version: PromptTemplateVersion | None = None) -> SendBackPlan:
    plan = SendBackPlan(to_move=[], to_skip=[])
    for row in rollback_impact(model_version=model_version, prompt_version=prompt_version):
        if row.draft.status in SEND_BACK_STATUSES and row.draft.current_revision_id:
            plan.to_move.append(row.draft)
        else:
            plan.to_skip.append((row.draft, _skip_reason(row.draft) or f"it is “{row.draft.get_status_display()}”"))
    return plan


@dataclass
class SendBackResult:
    moved: list[tuple[Any, str]] = field(default_factory=list)  # (draft, old status)
    skipped: list[tuple[Any, str]] = field(default_factory=list)  # (draft, why)


def _may_send_back(user: Any, model_version: ModelVersion | None, prompt_version: PromptTemplateVersion | None) -> bool:
    if model_version is not None:
        return may_activate_model(user, model_version)
    return may_activate_template(user, prompt_version.template)


def drafts_send_back(
    *, user: Any, model_version: ModelVersion | None = None, prompt_version: PromptTemplateVersion | None = None,
    reason: str = "",
) -> SendBackResult:
    """Move every in-review, approved or published draft the version produced back to review, each
    in its own transaction (one draft's failure does not undo the others), audited per draft.

    Sign-offs bind to revisions (governance/gates.py), so each draft gets a new revision with the
    same text, marked `review_reset` in its provenance; sign-offs on revisions before a reset never
    count again, whatever the gate's "re-approve on change" setting. Published pieces stay at the
    CMS until they are re-approved and published again (which sends an "updated" event)."""
    from editorial.models import Draft

    if not _may_send_back(user, model_version, prompt_version):
        raise PermissionDenied("Sending a version's drafts back to review needs the permission to activate "
                               "and roll back that version.")
    label = version_label(model_version=model_version, prompt_version=prompt_version)
    why = f"Sent back to review: produced by {label}, which was rolled back."
    if reason.strip():
        why += f" {reason.strip()}"
    result = SendBackResult()
    for row in rollback_impact(model_version=model_version, prompt_version=prompt_version):
        try:
            outcome = _send_back_one(draft_id=row.draft.pk, user=user, why=why, label=label,
                                     model_version=model_version, prompt_version=prompt_version)
        except Exception as exc:  # report it and go on with the others
            log.exception("send back of draft %s failed", row.draft.pk)
            outcome = ("skip", f"could not be sent back: {exc}")
        draft = Draft.objects.get(pk=row.draft.pk)
        if outcome[0] == "moved":
            result.moved.append((draft, outcome[1]))
        else:
            result.skipped.append((draft, outcome[1]))
    return result


@transaction.atomic
def _send_back_one(*, draft_id: int, user: Any, why: str, label: str, model_version: ModelVersion | None,
                   prompt_version: PromptTemplateVersion | None) -> tuple[str, str]:
    from editorial.models import Draft
    from editorial.revisions import revision_create
    from editorial.transitions import draft_transition
    from governance.policies import evaluate, findings_record, rule_set_version_for

    # Lock order: the draft row first, then the audit chain (revision_create and audit_log below).
    draft = Draft.objects.select_for_update(of=("self",)).select_related("brief", "current_revision").get(pk=draft_id)
    if draft.status not in SEND_BACK_STATUSES or draft.current_revision_id is None:
        return ("skip", _skip_reason(draft) or f"it is “{draft.get_status_display()}”")
    current = draft.current_revision
    old_status = draft.status
    revision = revision_create(
        draft=draft, content=current.content, author_user=user, parent=current,
        provenance={"review_reset": {"reason": why, "version": label,
                                     "model_version": model_version.pk if model_version else None,
                                     "prompt_version": prompt_version.pk if prompt_version else None,
                                     "copied_from": {"revision": current.pk, "number": current.number}}},
        note=why[:300],
    )
    version = rule_set_version_for(draft.brand)
    findings_record(revision=revision, run=None, version=version,
                    findings=evaluate(revision.content, channel=draft.brief.channel, version=version))
    unscheduled = draft.publish_at
    draft_transition(draft=draft, to=Draft.Status.IN_REVIEW, reason=why, action="agents.rollback.send_back", user=user,
                     fields={"publish_at": None},
                     data={"reason": why, "revision": [current.number, revision.number],
                           "still_published": draft.published_revision_id is not None,
                           "unscheduled": unscheduled.isoformat() if unscheduled else None})
    return ("moved", old_status)


def shadow_runs_for_draft(draft: Any) -> QuerySet[AgentRun]:
    return AgentRun.objects.filter(draft=draft, kind=AgentRun.Kind.SHADOW)

