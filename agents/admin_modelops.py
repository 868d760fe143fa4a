"""Admin for model versions and prompt templates: configuration, connection test, state changes
(activate / shadow / retire / roll back), template versions (copy-and-edit, diff, preview,
activate, roll back) and rollback impact with "send all back to review".

Pages are thin: they parse a form, call one service in agents/modelops.py (which checks the object
permission and audits), and render. State fields are read-only in the change forms, so the only way
to change them is through those audited services.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from guardian.admin import GuardedModelAdmin

from agents import modelops
from agents.models import ModelVersion, PromptTemplate, PromptTemplateVersion
from editorial.diffs import word_diff
from governance.models import Brand, Channel

Status = ModelVersion.Status


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{'' if k == '__all__' else k + ': '}{m}" for k, ms in exc.message_dict.items() for m in ms]
    return list(exc.messages)


# --- model versions ------------------------------------------------------------------------------


def _viewable(model_admin: admin.ModelAdmin, request: HttpRequest, queryset, pk: int, missing: str):
    """The object behind one of the admin's own pages: 404 when it does not exist, 403 without view permission."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404(missing)
    if not model_admin.has_view_permission(request, obj):
        raise PermissionDenied
    return obj

class ModelVersionForm(forms.ModelForm):
    base_url = forms.URLField(max_length=300, required=False, assume_scheme="https",
                              help_text="The OpenAI-compatible endpoint, e.g. http://127.0.0.1:8081/v1.")

    class Meta:
        model = ModelVersion
        exclude = ["status", "rollout_share", "breaker_state", "breaker_failures", "breaker_opened_at"]
        widgets = {"parameters": forms.Textarea(attrs={"rows": 4, "cols": 60, "class": "vLargeTextField mono"})}
        help_texts = {
            "parameters": "A JSON object. Known keys: "
            + ", ".join(f"{k} ({v[0]}{'' if v[1] is None else f', {v[1]:,}–{v[2]:,}'})"
                        for k, v in modelops.KNOWN_PARAMETERS.items() if k != "stop")
            + ", stop (a string or up to 4 strings).",
            "fallback": "Used while this version's circuit breaker is open. Not itself, and no cycles.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Show prices as plain decimals ("0.000002"), not in the exponent form Decimal prints ("2E-6").
        for name in ("price_per_input_token", "price_per_output_token"):
            value = self.initial.get(name)
            if isinstance(value, Decimal):
                self.initial[name] = format(value.normalize(), "f") if value else "0"

    def clean_parameters(self) -> Any:
        value = self.cleaned_data.get("parameters")
        if value is None:
            value = {}
        problems = modelops.parameters_problems(value)
        if problems:
            raise forms.ValidationError(problems)
        return value

    def clean_fallback(self) -> ModelVersion | None:
        fallback = self.cleaned_data.get("fallback")
        problem = modelops.fallback_problem(version=self.instance if self.instance.pk else None, fallback=fallback)
        if problem:
            raise forms.ValidationError(problem)
        return fallback

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("use_settings"):
            if not data.get("base_url"):
                self.add_error("base_url", "Give the provider's base URL (or tick “use settings”).")
            if not data.get("model"):
                self.add_error("model", "Give the model name the server knows (or tick “use settings”).")
        return data


class ActivateForm(forms.Form):
    rollout_share = forms.IntegerField(min_value=0, max_value=100, label="Rollout share of this version (%)",
                                       help_text="Percent of new briefs written by this version.")
    reason = forms.CharField(required=False, max_length=300, widget=forms.TextInput(attrs={"size": 70}))

    def __init__(self, *args: Any, others: list[ModelVersion], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.others = others
        for v in others:
            self.fields[f"status_{v.pk}"] = forms.ChoiceField(
                choices=Status.choices, initial=v.status, label=f"{v.name}: status")
            self.fields[f"share_{v.pk}"] = forms.IntegerField(
                min_value=0, max_value=100, initial=v.rollout_share, label=f"{v.name}: rollout share (%)")

    def other_changes(self) -> dict[int, dict[str, Any]]:
        return {v.pk: {"status": self.cleaned_data[f"status_{v.pk}"], "rollout_share": self.cleaned_data[f"share_{v.pk}"]}
                for v in self.others}

    def other_rows(self) -> list[tuple[ModelVersion, Any, Any]]:
        return [(v, self[f"status_{v.pk}"], self[f"share_{v.pk}"]) for v in self.others]


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=300, widget=forms.TextInput(attrs={"size": 70}),
                             help_text="Recorded in the audit log.")


STATE_ACTIONS = {
    "activate": ("Activate", modelops.modelversion_activate),
    "shadow": ("Put in shadow", modelops.modelversion_shadow),
    "retire": ("Retire", modelops.modelversion_retire),
    "rollback": ("Roll back", modelops.modelversion_rollback),
}


class ImpactMixin:
    """The rollback-impact page and its "send all back to review" confirmation, for either kind of version."""

    def _impact_response(self, request: HttpRequest, *, title: str, back_url: str, send_back_url: str,
                         model_version: ModelVersion | None = None,
                         prompt_version: PromptTemplateVersion | None = None, obj: Any) -> HttpResponse:
        rows = modelops.rollback_impact(model_version=model_version, prompt_version=prompt_version)
        plan = modelops.send_back_plan(model_version=model_version, prompt_version=prompt_version)
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": obj, "title": title,
            "rows": rows, "plan": plan, "back_url": back_url, "send_back_url": send_back_url,
            "label": modelops.version_label(model_version=model_version, prompt_version=prompt_version),
            "published_count": sum(1 for r in rows if r.was_published),
        }
        return TemplateResponse(request, "admin/agents/impact.html", context)

    def _send_back_response(self, request: HttpRequest, *, title: str, impact_url: str,
                            model_version: ModelVersion | None = None,
                            prompt_version: PromptTemplateVersion | None = None, obj: Any,
                            allowed: bool) -> HttpResponse:
        form = ReasonForm(request.POST if request.method == "POST" else None)
        result = None
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                result = modelops.drafts_send_back(user=request.user, model_version=model_version,
                                                   prompt_version=prompt_version, reason=form.cleaned_data["reason"])
            except PermissionDenied as exc:
                messages.error(request, str(exc))
                status = 403
            else:
                messages.success(request, f"Sent {len(result.moved)} draft{'s' if len(result.moved) != 1 else ''} "
                                          f"back to review; skipped {len(result.skipped)}.")
        plan = modelops.send_back_plan(model_version=model_version, prompt_version=prompt_version)
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": obj, "title": title,
            "form": form, "plan": plan, "result": result, "impact_url": impact_url, "allowed": allowed,
            "label": modelops.version_label(model_version=model_version, prompt_version=prompt_version),
        }
        return TemplateResponse(request, "admin/agents/send_back.html", context, status=status)


@admin.register(ModelVersion)
class ModelVersionAdmin(ImpactMixin, GuardedModelAdmin):
    form = ModelVersionForm
    change_form_template = "admin/agents/modelversion/change_form.html"
    list_display = ["name", "effective_model", "mode", "status_badge", "rollout_share", "fallback", "breaker_state"]
    list_filter = ["status", "mode"]
    search_fields = ["name", "model"]
    readonly_fields = ["status", "rollout_share", "breaker_state", "breaker_failures", "breaker_opened_at"]
    actions = ["test_connection_action"]
    fieldsets = [
        ("Connection", {"fields": ["name", "provider", "use_settings", "base_url", "model", "mode", "api_key_env"]}),
        ("Generation", {"fields": ["parameters", "context_window", "max_run_tokens", "max_run_seconds"]}),
        ("Prices (per token)", {"fields": ["price_per_input_token", "price_per_output_token"]}),
        ("Rollout", {"fields": ["status", "rollout_share", "fallback"],
                     "description": "Status and share change only through Activate / Shadow / Retire / Roll back "
                                    "(permissioned and audited). New versions start retired."}),
        ("Circuit breaker", {"fields": ["breaker_state", "breaker_failures", "breaker_opened_at"],
                             "classes": ["collapse"]}),
    ]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # versions are history (runs and drafts point at them): retire instead

    @admin.display(description="Model")
    def effective_model(self, obj: ModelVersion) -> str:
        return "(from settings)" if obj.use_settings else obj.model

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: ModelVersion) -> str:
        return format_html('<span class="mv-status mv-{}">{}</span>', obj.status, obj.get_status_display())

    def save_model(self, request: HttpRequest, obj: ModelVersion, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.status, obj.rollout_share = Status.RETIRED, 0
        changes = {}
        for name in form.changed_data:
            before = form.initial.get(name)
            after = form.cleaned_data.get(name)
            changes[name] = {"before": _plain(before), "after": _plain(after)}
        super().save_model(request, obj, form, change)
        if changes or not change:
            modelops.modelversion_audit_save(user=request.user, version=obj, created=not change, changes=changes)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<int:pk>/test/", view(self.test_view), name=f"{name}_test"),
            path("<int:pk>/state/<str:action>/", view(self.state_view), name=f"{name}_state"),
            path("<int:pk>/impact/", view(self.impact_view), name=f"{name}_impact"),
            path("<int:pk>/impact/send-back/", view(self.send_back_view), name=f"{name}_send_back"),
            *super().get_urls(),
        ]

    def _get(self, request: HttpRequest, pk: int) -> ModelVersion:
        return _viewable(self, request, ModelVersion.objects.select_related("fallback"), pk, "No such model version.")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        extra_context = extra_context or {}
        version = ModelVersion.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if version is not None:
            extra_context.update(
                may_activate=modelops.may_activate_model(request.user, version),
                last_change=modelops.modelversion_last_change(version),
                history=modelops.modelversion_history(version, limit=8),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Test connection of the selected versions", permissions=["view"])
    def test_connection_action(self, request: HttpRequest, queryset) -> HttpResponse:
        reports = [(v, modelops.modelversion_test_connection(version=v)) for v in queryset.order_by("id")[:10]]
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "Connection test",
                   "reports": reports}
        return TemplateResponse(request, "admin/agents/modelversion/test.html", context)

    def test_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET explains; POST calls the server (models list + a tiny completion). Nothing is saved."""
        version = self._get(request, pk)
        reports = []
        if request.method == "POST":
            reports = [(version, modelops.modelversion_test_connection(version=version))]
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": version,
                   "title": f"Test connection: {version.name}", "reports": reports, "single": True,
                   "prompt": modelops.TEST_PROMPT}
        return TemplateResponse(request, "admin/agents/modelversion/test.html", context)

    def state_view(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        if action not in STATE_ACTIONS:
            raise Http404("Unknown action.")
        version = self._get(request, pk)
        label, service = STATE_ACTIONS[action]
        others = list(ModelVersion.objects.filter(status=Status.ACTIVE).exclude(pk=version.pk).order_by("id"))
        if action == "activate":
            other_total = sum(v.rollout_share for v in others)
            initial = {"rollout_share": version.rollout_share if version.status == Status.ACTIVE
                       else max(0, 100 - other_total)}
            form: forms.Form = ActivateForm(request.POST if request.method == "POST" else None, others=others, initial=initial)
        else:
            form = ReasonForm(request.POST if request.method == "POST" else None)
        allowed = modelops.may_activate_model(request.user, version)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                try:
                    if action == "activate":
                        service(user=request.user, version=version, rollout_share=form.cleaned_data["rollout_share"],
                                others=form.other_changes(), reason=form.cleaned_data["reason"])
                    else:
                        service(user=request.user, version=version, reason=form.cleaned_data["reason"])
                except PermissionDenied as exc:
                    form.add_error(None, str(exc))
                    status = 403
                except ValidationError as exc:
                    for message in _errors(exc):
                        form.add_error(None, message)
                    status = 400
                else:
                    version.refresh_from_db()
                    messages.success(request, f"{label}: done. {version.name} is now {version.get_status_display().lower()}"
                                              f"{f' with {version.rollout_share}% of new briefs' if version.status == Status.ACTIVE else ''}. "
                                              "The change is in the audit log; “Roll back” undoes it.")
                    return HttpResponseRedirect(reverse("admin:agents_modelversion_change", args=[version.pk]))
            else:
                status = 400
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": version,
            "title": f"{label}: {version.name}", "action": action, "action_label": label, "form": form,
            "allowed": allowed, "others": others, "last_change": modelops.modelversion_last_change(version),
            "active_total": sum(v.rollout_share for v in others),
        }
        return TemplateResponse(request, "admin/agents/modelversion/state.html", context, status=status)

    def impact_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._get(request, pk)
        return self._impact_response(
            request, title=f"What {version.name} produced", model_version=version, obj=version,
            back_url=reverse("admin:agents_modelversion_change", args=[pk]),
            send_back_url=reverse("admin:agents_modelversion_send_back", args=[pk]))

    def send_back_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._get(request, pk)
        return self._send_back_response(
            request, title=f"Send back to review: drafts of {version.name}", model_version=version, obj=version,
            impact_url=reverse("admin:agents_modelversion_impact", args=[pk]),
            allowed=modelops.may_activate_model(request.user, version))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, ModelVersion):
        return {"id": value.pk, "name": value.name}
    if isinstance(value, int | str | float | bool | dict | list) or value is None:
        return value
    return str(value)


# --- prompt templates ----------------------------------------------------------------------------

class JSONText(forms.JSONField):
    widget = forms.Textarea

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 8, "cols": 90, "class": "mono"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class TemplateVersionForm(forms.Form):
    system_text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 90}),
                                  help_text="The system message (chat) or the text before the prompt (completion).")
    sections = JSONText(help_text='The section plan: [{"heading": "…", "instruction": "…"}, …]')
    section_prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 90, "class": "mono"}),
                                     help_text="Completion models: the whole prompt of one section. Placeholders: "
                                     + ", ".join("{" + f + "}" for f in modelops.BRIEF_FIELDS)
                                     + " and the declared variables.")
    chat_prompt = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6, "cols": 90, "class": "mono"}),
                                  help_text="Chat models: the user message of one section (empty: the section prompt).")
    variables = JSONText(required=False, help_text='A JSON schema of extra variables, e.g. {"type": "object", '
                                                   '"properties": {"cta": {"type": "string", "default": "Shop now"}}}')
    outline_checkpoint = forms.BooleanField(required=False, help_text="Stop after planning for an editor to approve the outline.")
    note = forms.CharField(required=False, max_length=200, help_text="What changed in this version, for the history.",
                           widget=forms.TextInput(attrs={"size": 90}))


class PreviewForm(forms.Form):
    version = forms.ModelChoiceField(queryset=PromptTemplateVersion.objects.none(), empty_label=None)
    brief = forms.ModelChoiceField(queryset=None, required=False, empty_label="— fill in the fields below —",
                                   help_text="An existing brief, or leave empty and fill in a sample.")
    brand = forms.CharField(required=False, initial="Northwind Coffee")
    title = forms.CharField(required=False, initial="Autumn roast is back")
    goal = forms.CharField(required=False, initial="Announce the return of our autumn roast")
    audience = forms.CharField(required=False, initial="coffee lovers")
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.BLOG)
    tone = forms.CharField(required=False, initial="warm")
    variables = JSONText(required=False, initial={}, help_text="Values of the version's variables, as a JSON object.")

    def __init__(self, *args: Any, template: PromptTemplate, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from editorial.models import Brief
        from governance.permissions import brands_for_user

        self.fields["version"].queryset = template.versions.order_by("-number")
        self.fields["version"].label_from_instance = lambda v: f"v{v.number}{' (active)' if v.pk == template.active_version_id else ''}{' · ' + v.note if v.note else ''}"
        # Only briefs of brands the admin may see: the preview shows their text.
        self.fields["brief"].queryset = (Brief.objects.filter(brand__in=brands_for_user(user))
                                         .select_related("brand").order_by("-created_at"))
        self.fields["brief"].label_from_instance = lambda b: f"{b.title} · {b.brand} · #{b.pk}"

    def sample_brief(self) -> Any:
        from editorial.models import Brief

        if self.cleaned_data.get("brief"):
            return self.cleaned_data["brief"]
        data = self.cleaned_data
        return Brief(brand=Brand(name=data.get("brand") or "Sample brand"), title=data.get("title") or "",
                     goal=data.get("goal") or "", audience=data.get("audience") or "",
                     channel=data.get("channel") or Channel.BLOG, tone=data.get("tone") or "")


def _sections_text(sections: Any) -> str:
    if not isinstance(sections, list):
        return json.dumps(sections, indent=2, ensure_ascii=False)
    out = []
    for i, s in enumerate(sections, 1):
        if isinstance(s, dict):
            out.append(f"{i}. {s.get('heading', '')}\n   {s.get('instruction', '')}")
        else:
            out.append(f"{i}. {json.dumps(s, ensure_ascii=False)}")
    return "\n".join(out)


def _version_fields(v: PromptTemplateVersion) -> list[tuple[str, str]]:
    return [
        ("System text", v.system_text),
        ("Sections", _sections_text(v.sections)),
        ("Section prompt (completion)", v.section_prompt),
        ("Chat prompt", v.chat_prompt),
        ("Variables (schema)", json.dumps(v.variables or {}, indent=2, sort_keys=True, ensure_ascii=False)),
        ("Outline checkpoint", "yes" if v.outline_checkpoint else "no"),
    ]


@admin.register(PromptTemplate)
class PromptTemplateAdmin(ImpactMixin, GuardedModelAdmin):
    change_form_template = "admin/agents/prompttemplate/change_form.html"
    list_display = ["name", "slug", "active_version", "version_count"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["active_version"]
    fields = ["name", "slug", "description", "active_version"]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("active_version").annotate(n_versions=Count("versions"))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # templates and their versions are history

    @admin.display(description="Versions", ordering="n_versions")
    def version_count(self, obj: PromptTemplate) -> int:
        return obj.n_versions

    def save_model(self, request: HttpRequest, obj: PromptTemplate, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        modelops.prompttemplate_audit_save(user=request.user, template=obj, created=not change,
                                           changed=form.changed_data)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<int:pk>/versions/new/", view(self.version_new_view), name=f"{name}_version_new"),
            path("<int:pk>/diff/", view(self.diff_view), name=f"{name}_diff"),
            path("<int:pk>/preview/", view(self.preview_view), name=f"{name}_preview"),
            path("<int:pk>/versions/<int:vid>/activate/", view(self.activate_view), name=f"{name}_activate"),
            path("<int:pk>/rollback/", view(self.rollback_view), name=f"{name}_rollback"),
            path("<int:pk>/versions/<int:vid>/impact/", view(self.impact_view), name=f"{name}_impact"),
            path("<int:pk>/versions/<int:vid>/impact/send-back/", view(self.send_back_view), name=f"{name}_send_back"),
            *super().get_urls(),
        ]

    def _get(self, request: HttpRequest, pk: int) -> PromptTemplate:
        return _viewable(self, request, PromptTemplate.objects.select_related("active_version"), pk,
                         "No such template.")

    def _version(self, template: PromptTemplate, vid: Any) -> PromptTemplateVersion:
        try:
            return template.versions.get(pk=int(vid))
        except (TypeError, ValueError, PromptTemplateVersion.DoesNotExist) as exc:
            raise Http404("No such version of this template.") from exc

    def _context(self, request: HttpRequest, template: PromptTemplate, title: str, **extra: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.opts, "original": template, "title": title,
                **extra}

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        extra_context = extra_context or {}
        template = PromptTemplate.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if template is not None:
            versions = list(template.versions.select_related("created_by").annotate(
                n_drafts=Count("draft", distinct=True)).order_by("-number"))
            extra_context.update(
                versions=versions,
                may_activate=modelops.may_activate_template(request.user, template),
                may_add_version=request.user.has_perm("agents.add_prompttemplateversion"),
                last_change=modelops.prompttemplate_last_change(template),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def version_new_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """A new version, starting as a copy of the active one (or of ?from=<version id>)."""
        template = self._get(request, pk)
        base = self._version(template, request.GET["from"]) if request.GET.get("from") else template.active_version
        initial = {}
        if base is not None:
            initial = {"system_text": base.system_text, "sections": base.sections, "section_prompt": base.section_prompt,
                       "chat_prompt": base.chat_prompt, "variables": base.variables,
                       "outline_checkpoint": base.outline_checkpoint}
        form = TemplateVersionForm(request.POST if request.method == "POST" else None, initial=initial)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                data = form.cleaned_data
                try:
                    version = modelops.prompttemplate_version_create(
                        user=request.user, template=template, system_text=data["system_text"],
                        sections=data["sections"], section_prompt=data["section_prompt"],
                        chat_prompt=data["chat_prompt"], variables=data["variables"] or {},
                        outline_checkpoint=data["outline_checkpoint"], note=data["note"], based_on=base)
                except PermissionDenied as exc:
                    form.add_error(None, str(exc))
                    status = 403
                except ValidationError as exc:
                    for field_name, problems in exc.message_dict.items():
                        for problem in problems:
                            form.add_error(field_name if field_name in form.fields else None, problem)
                    status = 400
                else:
                    messages.success(request, f"Saved v{version.number}. It is not active yet: preview it, compare it, "
                                              "then activate it.")
                    return HttpResponseRedirect(reverse("admin:agents_prompttemplate_change", args=[template.pk]))
            else:
                status = 400
        context = self._context(request, template, f"New version of {template.name}", form=form, base=base)
        return TemplateResponse(request, "admin/agents/prompttemplate/version_new.html", context, status=status)

    def diff_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        template = self._get(request, pk)
        versions = list(template.versions.order_by("-number"))
        if len(versions) < 1:
            raise Http404("This template has no versions yet.")
        b = self._version(template, request.GET.get("b") or (template.active_version_id or versions[0].pk))
        default_a = next((v for v in versions if v.number < b.number), b)
        a = self._version(template, request.GET.get("a") or default_a.pk)
        fields = []
        for (label, old), (_, new) in zip(_version_fields(a), _version_fields(b), strict=True):
            fields.append({"label": label, "diff": word_diff(old, new), "changed": old != new})
        context = self._context(request, template, f"Compare versions of {template.name}", versions=versions,
                                a=a, b=b, fields=fields, changed=sum(1 for f in fields if f["changed"]))
        return TemplateResponse(request, "admin/agents/prompttemplate/diff.html", context)

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        template = self._get(request, pk)
        data = request.GET if "version" in request.GET else None
        initial = {"version": template.active_version_id}
        form = PreviewForm(data, template=template, user=request.user, initial=initial)
        preview = None
        if data is not None and form.is_valid():
            preview = modelops.prompttemplate_preview(version=form.cleaned_data["version"], brief=form.sample_brief(),
                                                      variables=form.cleaned_data["variables"] or {})
        context = self._context(request, template, f"Preview {template.name}", form=form, preview=preview)
        return TemplateResponse(request, "admin/agents/prompttemplate/preview.html", context,
                                status=400 if data is not None and not form.is_valid() else 200)

    def _state_page(self, request: HttpRequest, template: PromptTemplate, *, action: str,
                    version: PromptTemplateVersion | None) -> HttpResponse:
        form = ReasonForm(request.POST if request.method == "POST" else None)
        allowed = modelops.may_activate_template(request.user, template)
        last_change = modelops.prompttemplate_last_change(template)
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                if action == "activate":
                    modelops.prompttemplate_activate(user=request.user, template=template, version=version,
                                                     reason=form.cleaned_data["reason"])
                else:
                    modelops.prompttemplate_rollback(user=request.user, template=template,
                                                     reason=form.cleaned_data["reason"])
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
                status = 403
            except ValidationError as exc:
                for message in _errors(exc):
                    form.add_error(None, message)
                status = 400
            else:
                template.refresh_from_db()
                messages.success(request, f"v{template.active_version.number} is now the active version of "
                                          f"{template.name}: new briefs use it. Drafts keep the version they were "
                                          "written with.")
                return HttpResponseRedirect(reverse("admin:agents_prompttemplate_change", args=[template.pk]))
        target = version
        if action == "rollback" and last_change and last_change.data["before"]["active_version"]:
            target = PromptTemplateVersion.objects.filter(pk=last_change.data["before"]["active_version"]["id"]).first()
        context = self._context(
            request, template, f"{'Activate' if action == 'activate' else 'Roll back'}: {template.name}",
            form=form, allowed=allowed, action=action, target=target, last_change=last_change)
        return TemplateResponse(request, "admin/agents/prompttemplate/state.html", context, status=status)

    def activate_view(self, request: HttpRequest, pk: int, vid: int) -> HttpResponse:
        template = self._get(request, pk)
        return self._state_page(request, template, action="activate", version=self._version(template, vid))

    def rollback_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        template = self._get(request, pk)
        return self._state_page(request, template, action="rollback", version=None)

    def impact_view(self, request: HttpRequest, pk: int, vid: int) -> HttpResponse:
        template = self._get(request, pk)
        version = self._version(template, vid)
        return self._impact_response(
            request, title=f"What {template.name} v{version.number} produced", prompt_version=version, obj=template,
            back_url=reverse("admin:agents_prompttemplate_change", args=[pk]),
            send_back_url=reverse("admin:agents_prompttemplate_send_back", args=[pk, vid]))

    def send_back_view(self, request: HttpRequest, pk: int, vid: int) -> HttpResponse:
        template = self._get(request, pk)
        version = self._version(template, vid)
        return self._send_back_response(
            request, title=f"Send back to review: drafts of {template.name} v{version.number}",
            prompt_version=version, obj=template,
            impact_url=reverse("admin:agents_prompttemplate_impact", args=[pk, vid]),
            allowed=modelops.may_activate_template(request.user, template))


@admin.register(PromptTemplateVersion)
class PromptTemplateVersionAdmin(admin.ModelAdmin):
    """Immutable: read here; new versions are made from the template's page (a copy of the active one)."""

    list_display = ["template", "number", "note", "created_by", "created_at"]
    list_filter = ["template"]
    readonly_fields = ["template", "number", "system_text", "sections", "section_prompt", "chat_prompt", "variables",
                       "outline_checkpoint", "note", "created_by", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
