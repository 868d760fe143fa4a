"""Admin base for history rows (revisions, runs, sign-offs, audit events): viewable, never changed."""
from __future__ import annotations

from django.contrib import admin


class ReadOnlyHistoryAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
