from __future__ import annotations

import csv
import json


from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import URLPattern, path
from django.utils import timezone
from guardian.admin import GuardedModelAdmin
import phonenumbers

from aios.admin_history import ReadOnlyHistoryAdmin
from governance import models as m
from governance.audit import AUDIT_EXPORT_FIELDS, audit_event_record
from governance.detectors.rules import validate_rules
from governance.publishing.connectors import connector_finish_rotation, connector_rotate_secret
from governance.publishing.delivery import delivery_replay
from governance.workflows import workflow_problems


class PhoneRegionsField(forms.CharField):
    """Two-letter country codes, separated by commas or spaces; stored as a list."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        codes = [c.upper() for c in str(value or "").replace(",", " ").split()]
        unknown = [c for c in codes if c not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise forms.ValidationError(f"Unknown region {', '.join(unknown)}: use two-letter country codes "
                                        "such as GB, DE, FR or US.")
        return list(dict.fromkeys(codes))


class BrandForm(forms.ModelForm):
    phone_regions = PhoneRegionsField(
        required=False, label="Phone regions", help_text=m.Brand._meta.get_field("phone_regions").help_text
        + " Separate codes with commas.")

    class Meta:
        model = m.Brand
        fields = "__all__"


@admin.register(m.Brand)
class BrandAdmin(GuardedModelAdmin):
    form = BrandForm
    list_display = ["name", "slug", "regions", "created_at"]
    prepopulated_fields = {"slug": ["name"]}

    @admin.display(description="phone regions")
    def regions(self, obj) -> str:
        return ", ".join(obj.phone_regions or []) or "—"


class GateForm(forms.ModelForm):
    class Meta:
        model = m.Gate
        fields = "__all__"

    def clean_group(self):
        group = self.cleaned_data["group"]
        if not group.user_set.filter(is_active=True).exists():
            raise forms.ValidationError(f"The group “{group.name}” has no active members, so nobody could sign "
                                        "this gate. Add people to the group first.")
        return group


class GateInline(admin.TabularInline):
    model = m.Gate
    form = GateForm
    extra = 0


@admin.register(m.Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["workflow", "order", "name"]
    inlines = [GateInline]


class StageInline(admin.TabularInline):
    model = m.Stage
    extra = 0
    show_change_link = True


class WorkflowForm(forms.ModelForm):
    class Meta:
        model = m.Workflow
        fields = "__all__"
        help_texts = {"is_active": "A workflow can be active only when every stage has gates and every gate "
                                   "has people to sign it. Create it inactive, add stages and gates, then activate."}

    def clean(self):
        data = super().clean()
        if data.get("is_active"):
            problems = workflow_problems(self.instance) if self.instance.pk else ["It has no stages yet."]
            if problems:
                raise forms.ValidationError(["This workflow could never complete, so it cannot be active:"]
                                            + problems)
        return data


@admin.register(m.Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    form = WorkflowForm
    list_display = ["name", "brand", "channels", "is_active", "problems"]
    inlines = [StageInline]

    @admin.display(description="Can complete?")
    def problems(self, obj: m.Workflow) -> str:
        found = workflow_problems(obj)
        return "yes" if not found else "no — " + " ".join(found)


@admin.register(m.Gate)
class GateAdmin(admin.ModelAdmin):
    form = GateForm
    list_display = ["name", "stage", "group", "kind", "min_risk", "reapprove_on_change"]
    list_filter = ["kind", "min_risk"]


@admin.register(m.SignOff)
class SignOffAdmin(ReadOnlyHistoryAdmin):
    list_display = ["created_at", "draft", "gate", "decision", "user", "revision"]
    list_filter = ["decision", "gate"]


@admin.register(m.RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "active_version"]


class RuleSetVersionForm(forms.ModelForm):
    class Meta:
        model = m.RuleSetVersion
        fields = "__all__"

    def clean(self):
        data = super().clean()
        # Invalid patterns, severities or limits are refused here, not discovered by a failing pipeline.
        validate_rules(data.get("banned_terms") or [], data.get("disclaimers") or {}, data.get("rules") or {})
        return data


@admin.register(m.RuleSetVersion)
class RuleSetVersionAdmin(admin.ModelAdmin):
    form = RuleSetVersionForm
    list_display = ["rule_set", "number", "created_at", "created_by"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None  # versions are immutable: add a new one instead

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(m.Finding)
class FindingAdmin(ReadOnlyHistoryAdmin):
    list_display = ["revision", "category", "severity", "text", "message"]
    list_filter = ["category", "severity"]


@admin.register(m.AuditEvent)
class AuditEventAdmin(ReadOnlyHistoryAdmin):
    list_display = [
        "created_at", "action", "actor_user", "actor_run", "actor_label", "object_type", "object_id", "short_hash",
    ]
    list_filter = [("actor_user", admin.RelatedOnlyFieldListFilter), "object_type", "action", "created_at"]
    list_select_related = ["actor_user", "actor_run"]
    search_fields = ["=object_id", "action", "actor_label"]
    search_help_text = "Object id (exact match), action or actor label."
    date_hierarchy = "created_at"
    actions = ["export_selected_csv", "export_selected_json"]

    @admin.display(description="Hash")
    def short_hash(self, obj: m.AuditEvent) -> str:
        return obj.hash[:12]

    def get_urls(self) -> list[URLPattern]:
        export = self.admin_site.admin_view(self.export_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        return [path("export/<str:fmt>/", export, name=name), *super().get_urls()]

    def export_view(self, request: HttpRequest, fmt: str) -> HttpResponse:
        """The whole filtered list: the changelist's query string (filters, dates, search) applies."""
        if fmt not in ("csv", "json"):
            raise Http404("Export as csv or json.")
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter in the query string.")
        return self._export(changelist.queryset, fmt)

    @admin.action(description="Export selected events as CSV", permissions=["view"])
    def export_selected_csv(self, request: HttpRequest, queryset: QuerySet[m.AuditEvent]) -> HttpResponse:
        return self._export(queryset, "csv")

    @admin.action(description="Export selected events as JSON", permissions=["view"])
    def export_selected_json(self, request: HttpRequest, queryset: QuerySet[m.AuditEvent]) -> HttpResponse:
        return self._export(queryset, "json")

    @staticmethod
    def _csv_cell(value: object) -> object:
        # A spreadsheet would run a cell starting like a formula. The JSON export keeps every byte.
        if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + value
        return value

    def _export(self, queryset: QuerySet[m.AuditEvent], fmt: str) -> HttpResponse:
        """Events in chain (id) order, with their hashes, as a CSV or JSON attachment."""
        events = queryset.select_related("actor_user").order_by("id").iterator(chunk_size=2000)
        records = (audit_event_record(event) for event in events)
        now = timezone.now()
        if fmt == "json":
            body = {"exported_at": now.isoformat(), "events": list(records)}
            response = HttpResponse(json.dumps(body, indent=2, ensure_ascii=False), content_type="application/json")
        else:
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            writer = csv.writer(response)
            writer.writerow(AUDIT_EXPORT_FIELDS)
            for record in records:
                record["data"] = json.dumps(record["data"], sort_keys=True, ensure_ascii=False)
                writer.writerow([self._csv_cell(record[name]) for name in AUDIT_EXPORT_FIELDS])
        response["Content-Disposition"] = f'attachment; filename="audit-events-{now:%Y%m%d-%H%M%S}.{fmt}"'
        return response


@admin.register(m.Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "url", "is_active", "disabled_reason", "rotating"]
    readonly_fields = ["previous_secret", "secret_rotated_at"]
    actions = ["rotate_secret", "finish_rotation"]

    @admin.display(boolean=True, description="Rotating secret")
    def rotating(self, obj: m.Connector) -> bool:
        return bool(obj.previous_secret)

    @admin.action(description="Rotate the signing secret (old and new both sign until finished)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> None:
        for connector in queryset:
            secret = connector_rotate_secret(connector=connector, user=request.user)
            self.message_user(request, f"{connector.name}: new secret {secret} — give it to the CMS, then finish "
                                       "the rotation.")

    @admin.action(description="Finish the rotation (stop signing with the old secret)")
    def finish_rotation(self, request: HttpRequest, queryset: QuerySet) -> None:
        for connector in queryset:
            try:
                connector_finish_rotation(connector=connector, user=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{connector.name}: {' '.join(exc.messages)}", level="warning")


class AttemptInline(admin.TabularInline):
    model = m.DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "status_code", "latency_ms", "response_excerpt", "error", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(m.Delivery)
class DeliveryAdmin(ReadOnlyHistoryAdmin):
    list_display = ["created_at", "connector", "draft", "event_type", "status", "attempt_count", "remote_id"]
    list_filter = ["status", "event_type", "connector"]
    inlines = [AttemptInline]
    actions = ["replay"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Replay dead-lettered deliveries (same webhook-id)")
    def replay(self, request: HttpRequest, queryset: QuerySet) -> None:
        for delivery in queryset.select_related("draft"):
            try:
                delivery_replay(delivery=delivery, user=request.user)
            except (ValidationError, PermissionDenied) as exc:
                msg = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{delivery.webhook_id}: {msg}", level="warning")
            else:
                self.message_user(request, f"{delivery.webhook_id}: replaying.")


from governance import token_admin  # noqa: E402,F401  (API token admin lives beside the token services)
