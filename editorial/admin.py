from django.contrib import admin

from aios.admin_history import ReadOnlyHistoryAdmin
from editorial import models as m
from governance.views import download_provenance_manifest


@admin.register(m.Brief)
class BriefAdmin(admin.ModelAdmin):
    list_display = ["title", "brand", "channel", "risk", "requested_by", "created_at"]
    list_filter = ["brand", "channel", "risk"]


@admin.register(m.Draft)
class DraftAdmin(admin.ModelAdmin):
    list_display = ["title", "brand", "status", "current_revision", "created_at"]
    list_filter = ["status", "brand"]
    readonly_fields = ["current_revision", "published_revision", "status", "status_reason", "brief", "brand"]


@admin.register(m.Revision)
class RevisionAdmin(ReadOnlyHistoryAdmin):
    list_display = ["draft", "number", "author_user", "author_run", "created_at", "content_hash"]
    actions = [download_provenance_manifest]


# Comments are append-only and notifications are a person's own inbox: inspect, never edit or delete.
class CommentInline(admin.TabularInline):
    model = m.Comment
    fields = ["author", "body", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(m.CommentThread)
class CommentThreadAdmin(ReadOnlyHistoryAdmin):
    list_display = ["draft", "revision", "section", "quote", "created_by", "created_at", "resolved_at"]
    list_filter = ["resolved_at"]
    search_fields = ["quote", "comments__body", "draft__title"]
    inlines = [CommentInline]


@admin.register(m.Notification)
class NotificationAdmin(ReadOnlyHistoryAdmin):
    list_display = ["user", "kind", "draft", "actor", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]


@admin.register(m.Proposal)
class ProposalAdmin(ReadOnlyHistoryAdmin):  # inspected here, decided on the draft page (audited)
    list_display = ["draft", "section_heading", "status", "requested_by", "decided_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["draft__title", "section_heading", "instruction"]


@admin.register(m.Attribution)
class AttributionAdmin(ReadOnlyHistoryAdmin):  # derived from immutable revisions (editorial/attribution.py)
    list_display = ["revision", "ai_share", "words_agent", "words_edited", "words_human", "computed_at"]
    search_fields = ["revision__draft__title"]


@admin.register(m.SourceChange)
class SourceChangeAdmin(ReadOnlyHistoryAdmin):  # raised and cleared by services, audited (editorial/sourceflags.py)
    list_display = ["draft", "document_title", "kind", "published", "created_by", "created_at", "cleared_at"]
    list_filter = ["kind", "published", "cleared_at"]
    search_fields = ["draft__title", "document_title"]
