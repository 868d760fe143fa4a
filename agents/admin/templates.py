"""Admin of prompt templates: template versions (copy-and-edit, diff, preview, activate, roll back)
and the rollback impact of a template version. Versions are immutable; every change goes through the
audited services in agents/modelops/templates.py.
"""
from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from guardian.admin import GuardedModelAdmin

from agents.admin.pages import ImpactMixin, ReasonForm, refusal_on_form, viewable
from agents.modelops import templates
from agents.models import PromptTemplate, PromptTemplateVersion
from agents.pipeline.prompts import BRIEF_FIELDS
from editorial.diffs import word_diff
from editorial.models import Brief
from governance.models import Brand, Channel
from governance.permissions import brands_for_user


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
                                     + ", ".join("{" + f + "}" for f in BRIEF_FIELDS)
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
        self.fields["version"].queryset = template.versions.order_by("-number")
        self.fields["version"].label_from_instance = lambda v: f"v{v.number}{' (active)' if v.pk == template.active_version_id else ''}{' · ' + v.note if v.note else ''}"
        # Only briefs of brands the admin may see: the preview shows their text.
        self.fields["brief"].queryset = (Brief.objects.filter(brand__in=brands_for_user(user))
                                         .select_related("brand").order_by("-created_at"))
        self.fields["brief"].label_from_instance = lambda b: f"{b.title} · {b.brand} · #{b.pk}"

    def sample_brief(self) -> Any:
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
        templates.prompttemplate_audit_save(user=request.user, template=obj, created=not change,
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
        return viewable(self, request, PromptTemplate.objects.select_related("active_version"), pk,
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
                may_activate=templates.may_activate_template(request.user, template),
                may_add_version=request.user.has_perm("agents.add_prompttemplateversion"),
                last_change=templates.prompttemplate_last_change(template),
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
                    version = templates.prompttemplate_version_create(
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
            preview = templates.prompttemplate_preview(version=form.cleaned_data["version"], brief=form.sample_brief(),
                                                       variables=form.cleaned_data["variables"] or {})
        context = self._context(request, template, f"Preview {template.name}", form=form, preview=preview)
        return TemplateResponse(request, "admin/agents/prompttemplate/preview.html", context,
                                status=400 if data is not None and not form.is_valid() else 200)

    def _state_page(self, request: HttpRequest, template: PromptTemplate, *, action: str,
                    version: PromptTemplateVersion | None) -> HttpResponse:
        form = ReasonForm(request.POST if request.method == "POST" else None)
        allowed = templates.may_activate_template(request.user, template)
        last_change = templates.prompttemplate_last_change(template)
        status = 200
        if request.method == "POST" and form.is_valid():
            reason = form.cleaned_data["reason"]
            refused = refusal_on_form(form, lambda: (
                templates.prompttemplate_activate(user=request.user, template=template, version=version, reason=reason)
                if action == "activate" else
                templates.prompttemplate_rollback(user=request.user, template=template, reason=reason)))
            if refused:
                status = refused
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
        return self.impact_response(
            request, title=f"What {template.name} v{version.number} produced", prompt_version=version, obj=template,
            back_url=reverse("admin:agents_prompttemplate_change", args=[pk]),
            send_back_url=reverse("admin:agents_prompttemplate_send_back", args=[pk, vid]))

    def send_back_view(self, request: HttpRequest, pk: int, vid: int) -> HttpResponse:
        template = self._get(request, pk)
        version = self._version(template, vid)
        return self.send_back_response(
            request, title=f"Send back to review: drafts of {template.name} v{version.number}",
            prompt_version=version, obj=template,
            impact_url=reverse("admin:agents_prompttemplate_impact", args=[pk, vid]),
            allowed=templates.may_activate_template(request.user, template))


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
