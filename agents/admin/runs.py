"""Admin of agent runs: read-only history, with each run's sections."""
from __future__ import annotations

from django.contrib import admin

from agents import models as m
from aios.admin_history import ReadOnlyHistoryAdmin


class SectionInline(admin.TabularInline):
    model = m.RunSection
    extra = 0
    can_delete = False
    readonly_fields = ["index", "heading", "text", "done", "tokens_in", "tokens_out", "prompt_hash"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(m.AgentRun)
class AgentRunAdmin(ReadOnlyHistoryAdmin):
    list_display = ["id", "draft", "kind", "status", "attempt_count", "model_name", "tokens_in", "tokens_out",
                    "cost", "latency_ms", "created_at"]
    list_filter = ["kind", "status"]
    inlines = [SectionInline]
