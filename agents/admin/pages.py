"""What the model-version and prompt-template admin pages share: the reason form, validation
messages, the lookup of the object behind a page, and the rollback-impact and send-back pages.

Pages are thin: they parse a form, call one service in agents/modelops/ (which checks the object
permission and audits), and render.
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from agents.modelops import rollback
from agents.models import ModelVersion, PromptTemplateVersion


def validation_messages(exc: ValidationError) -> list[str]:
    """Every message of a ValidationError, prefixed with its field when it has one."""
    if hasattr(exc, "error_dict"):
        return [f"{'' if k == '__all__' else k + ': '}{m}" for k, ms in exc.message_dict.items() for m in ms]
    return list(exc.messages)


def refusal_on_form(form: forms.Form, call: Any) -> int | None:
    """Run a service `call`; when it refuses, its reasons become the form's errors. Returns the HTTP
    status of the refusal (403 not allowed, 400 not valid), or None when the service did the work."""
    try:
        call()
    except PermissionDenied as exc:
        form.add_error(None, str(exc))
        return 403
    except ValidationError as exc:
        for message in validation_messages(exc):
            form.add_error(None, message)
        return 400
    return None


def viewable(model_admin: admin.ModelAdmin, request: HttpRequest, queryset, pk: int, missing: str):
    """The object behind one of the admin's own pages: 404 when it does not exist, 403 without view permission."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404(missing)
    if not model_admin.has_view_permission(request, obj):
        raise PermissionDenied
    return obj


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=300, widget=forms.TextInput(attrs={"size": 70}),
                             help_text="Recorded in the audit log.")


class ImpactMixin:
    """The rollback-impact page and its "send all back to review" confirmation, for either kind of version."""

    def impact_response(self, request: HttpRequest, *, title: str, back_url: str, send_back_url: str,
                         model_version: ModelVersion | None = None,
                         prompt_version: PromptTemplateVersion | None = None, obj: Any) -> HttpResponse:
        rows = rollback.rollback_impact(model_version=model_version, prompt_version=prompt_version)
        plan = rollback.send_back_plan(model_version=model_version, prompt_version=prompt_version)
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": obj, "title": title,
            "rows": rows, "plan": plan, "back_url": back_url, "send_back_url": send_back_url,
            "label": rollback.version_label(model_version=model_version, prompt_version=prompt_version),
            "published_count": sum(1 for r in rows if r.was_published),
        }
        return TemplateResponse(request, "admin/agents/impact.html", context)

    def send_back_response(self, request: HttpRequest, *, title: str, impact_url: str,
                            model_version: ModelVersion | None = None,
                            prompt_version: PromptTemplateVersion | None = None, obj: Any,
                            allowed: bool) -> HttpResponse:
        form = ReasonForm(request.POST if request.method == "POST" else None)
        result = None
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                result = rollback.drafts_send_back(user=request.user, model_version=model_version,
                                                   prompt_version=prompt_version, reason=form.cleaned_data["reason"])
            except PermissionDenied as exc:
                messages.error(request, str(exc))
                status = 403
            else:
                messages.success(request, f"Sent {len(result.moved)} draft{'s' if len(result.moved) != 1 else ''} "
                                          f"back to review; skipped {len(result.skipped)}.")
        plan = rollback.send_back_plan(model_version=model_version, prompt_version=prompt_version)
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": obj, "title": title,
            "form": form, "plan": plan, "result": result, "impact_url": impact_url, "allowed": allowed,
            "label": rollback.version_label(model_version=model_version, prompt_version=prompt_version),
        }
        return TemplateResponse(request, "admin/agents/send_back.html", context, status=status)
