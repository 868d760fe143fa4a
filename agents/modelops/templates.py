"""Prompt templates: their versions (validated, immutable), activation and rollback, and a preview of
exactly what each section sends to a model.

Activation and rollback check the object permission and write their audit event with the before and
after active version in the same transaction; a rollback goes back to the "before" of the latest one.
"""
from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from agents.models import PromptTemplate, PromptTemplateVersion
from agents.pipeline.prompts import BRIEF_FIELDS, render_section_prompt
from governance.audit import audit_log
from governance.models import AuditEvent
from governance.permissions import user_has_model_or_object_perm

ACTIVATE_TEMPLATE = "agents.activate_prompttemplate"

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
