from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from aios.admin_history import ReadOnlyHistoryAdmin
from governance import models as m


@admin.register(m.Brand)
class BrandAdmin(GuardedModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}


class GateInline(admin.TabularInline):
    model = m.Gate
    extra = 0


@admin.register(m.Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["workflow", "order", "name"]
    inlines = [GateInline]


class StageInline(admin.TabularInline):
    model = m.Stage
    extra = 0
    show_change_link = True


@admin.register(m.Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "channels", "is_active"]
    inlines = [StageInline]


@admin.register(m.Gate)
class GateAdmin(admin.ModelAdmin):
    list_display = ["name", "stage", "group", "kind", "min_risk", "reapprove_on_change"]
    list_filter = ["kind", "min_risk"]


@admin.register(m.SignOff)
class SignOffAdmin(ReadOnlyHistoryAdmin):
    list_display = ["created_at", "draft", "gate", "decision", "user", "revision"]
    list_filter = ["decision", "gate"]


@admin.register(m.RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "active_version"]


@admin.register(m.RuleSetVersion)
class RuleSetVersionAdmin(admin.ModelAdmin):
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
    list_display = ["created_at", "action", "actor_user", "actor_run", "actor_label", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["action", "object_id", "actor_label"]
    date_hierarchy = "created_at"


@admin.register(m.Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "url", "is_active"]


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
    list_filter = ["status", "event_type"]
    inlines = [AttemptInline]


@admin.register(m.DemoReceipt)
class DemoReceiptAdmin(ReadOnlyHistoryAdmin):
    list_display = ["received_at", "connector", "webhook_id", "verified"]
