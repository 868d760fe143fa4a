from django.contrib import admin

from agents import models as m
from aios.admin_history import ReadOnlyHistoryAdmin


@admin.register(m.ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "model", "mode", "status", "rollout_share", "use_settings"]
    list_filter = ["status", "mode"]


class VersionInline(admin.StackedInline):
    model = m.PromptTemplateVersion
    extra = 0
    can_delete = False
    fields = ["number", "system_text", "sections", "section_prompt", "outline_checkpoint", "note"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(m.PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "active_version"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VersionInline]


@admin.register(m.PromptTemplateVersion)
class PromptTemplateVersionAdmin(admin.ModelAdmin):
    list_display = ["template", "number", "note", "created_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None  # immutable: add a new version instead

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


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
