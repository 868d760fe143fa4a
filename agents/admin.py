from django.contrib import admin

from agents import admin_modelops  # noqa: F401 - registers model versions and prompt templates (+ versions)
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


@admin.register(m.KnowledgeDocument)
class KnowledgeDocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "brand", "source_format", "expires_at", "created_at"]
    list_filter = ["brand"]


@admin.register(m.KnowledgeChunk)
class KnowledgeChunkAdmin(ReadOnlyHistoryAdmin):
    list_display = ["document", "index", "flagged"]
    exclude = ["embedding"]
