from __future__ import annotations

from django.contrib import admin

from editorial.batches.models import Batch, BatchRow


class BatchRowInline(admin.TabularInline):
    model = BatchRow
    fields = ["number", "status", "draft", "error", "values"]
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    show_change_link = False


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    """Read-only: a batch changes through its services (start, pause, resume, cancel), which audit."""

    list_display = ["name", "brand", "template", "status", "total", "created_by", "created_at"]
    list_filter = ["status", "brand"]
    search_fields = ["name", "source_name"]
    readonly_fields = [f.name for f in Batch._meta.fields]
    inlines = [BatchRowInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
