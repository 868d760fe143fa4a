"""Admin of model versions: configuration, connection test, state changes (activate / shadow /
retire / roll back) and rollback impact with "send all back to review".

State fields are read-only in the change form, so the only way to change them is through the audited
services in agents/modelops/versions.py.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from guardian.admin import GuardedModelAdmin

from agents.admin.pages import ImpactMixin, ReasonForm, refusal_on_form, viewable
from agents.modelops import versions
from agents.models import ModelVersion

Status = ModelVersion.Status


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
                        for k, v in versions.KNOWN_PARAMETERS.items() if k != "stop")
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
        problems = versions.parameters_problems(value)
        if problems:
            raise forms.ValidationError(problems)
        return value

    def clean_fallback(self) -> ModelVersion | None:
        fallback = self.cleaned_data.get("fallback")
        problem = versions.fallback_problem(version=self.instance if self.instance.pk else None, fallback=fallback)
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


STATE_ACTIONS = {
    "activate": ("Activate", versions.modelversion_activate),
    "shadow": ("Put in shadow", versions.modelversion_shadow),
    "retire": ("Retire", versions.modelversion_retire),
    "rollback": ("Roll back", versions.modelversion_rollback),
}


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
            versions.modelversion_audit_save(user=request.user, version=obj, created=not change, changes=changes)

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
        return viewable(self, request, ModelVersion.objects.select_related("fallback"), pk, "No such model version.")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None):
        extra_context = extra_context or {}
        version = ModelVersion.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if version is not None:
            extra_context.update(
                may_activate=versions.may_activate_model(request.user, version),
                last_change=versions.modelversion_last_change(version),
                history=versions.modelversion_history(version, limit=8),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Test connection of the selected versions", permissions=["view"])
    def test_connection_action(self, request: HttpRequest, queryset) -> HttpResponse:
        reports = [(v, versions.modelversion_test_connection(version=v)) for v in queryset.order_by("id")[:10]]
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "Connection test",
                   "reports": reports}
        return TemplateResponse(request, "admin/agents/modelversion/test.html", context)

    def test_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """GET explains; POST calls the server (models list + a tiny completion). Nothing is saved."""
        version = self._get(request, pk)
        reports = []
        if request.method == "POST":
            reports = [(version, versions.modelversion_test_connection(version=version))]
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": version,
                   "title": f"Test connection: {version.name}", "reports": reports, "single": True,
                   "prompt": versions.TEST_PROMPT}
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
        allowed = versions.may_activate_model(request.user, version)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                extra = ({"rollout_share": form.cleaned_data["rollout_share"], "others": form.other_changes()}
                         if action == "activate" else {})
                refused = refusal_on_form(form, lambda: service(user=request.user, version=version,
                                                                reason=form.cleaned_data["reason"], **extra))
                if refused:
                    status = refused
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
            "allowed": allowed, "others": others, "last_change": versions.modelversion_last_change(version),
            "active_total": sum(v.rollout_share for v in others),
        }
        return TemplateResponse(request, "admin/agents/modelversion/state.html", context, status=status)

    def impact_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._get(request, pk)
        return self.impact_response(
            request, title=f"What {version.name} produced", model_version=version, obj=version,
            back_url=reverse("admin:agents_modelversion_change", args=[pk]),
            send_back_url=reverse("admin:agents_modelversion_send_back", args=[pk]))

    def send_back_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        version = self._get(request, pk)
        return self.send_back_response(
            request, title=f"Send back to review: drafts of {version.name}", model_version=version, obj=version,
            impact_url=reverse("admin:agents_modelversion_impact", args=[pk]),
            allowed=versions.may_activate_model(request.user, version))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, ModelVersion):
        return {"id": value.pk, "name": value.name}
    if isinstance(value, int | str | float | bool | dict | list) or value is None:
        return value
    return str(value)
