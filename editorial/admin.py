from django.contrib import admin

from aios.admin_history import ReadOnlyHistoryAdmin
from editorial import models as m
from governance.provenance import download_provenance_manifest


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


@admin.register(m.Proposal)
class ProposalAdmin(ReadOnlyHistoryAdmin):  # regen: inspected here, decided on the draft page (audited)
    list_display = ["draft", "section_heading", "status", "requested_by", "decided_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["draft__title", "section_heading", "instruction"]
