"""Admin of the knowledge base (agents/knowledge.py): every write goes through a service."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils import timezone

from agents import knowledge
from agents import models as m
from aios.admin_history import ReadOnlyHistoryAdmin
from governance.permissions import knowledge_policy


class KnowledgeAddForm(forms.ModelForm):
    """Upload a file or paste text; the service reads it (HTML reduced to text) and embeds it."""

    file = forms.FileField(required=False, help_text="Plain text (.txt), Markdown (.md) or HTML (.html).")
    text = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 8}),
                           label="…or paste the text")
    paste_format = forms.ChoiceField(choices=list(knowledge.FORMATS.items()), initial="text",
                                     label="Pasted text is")

    class Meta:
        model = m.KnowledgeDocument
        fields = ["brand", "title", "expires_at"]

    def clean(self):
        data = super().clean()
        brand, upload, text = data.get("brand"), data.get("file"), data.get("text") or ""
        if brand is not None and not knowledge_policy.user_has_permission_for_brand(self.user, "manage", brand):
            raise forms.ValidationError("You cannot add documents to this brand's knowledge base.")
        if upload is None and not text.strip():
            raise forms.ValidationError("Choose a file or paste some text.")
        if upload is not None and text.strip():
            raise forms.ValidationError("Either upload a file or paste text, not both.")
        if data.get("expires_at") and data["expires_at"] <= timezone.now():
            self.add_error("expires_at", "The expiry is in the past; the document would never be used.")
        try:
            if upload is not None and upload.size > settings.AIOS_KNOWLEDGE_MAX_BYTES:
                raise ValidationError(f"The file is too big; the limit is {settings.AIOS_KNOWLEDGE_MAX_BYTES:,} bytes.")
            self.body, self.source_format = knowledge.read_source(
                data=upload.read() if upload is not None else None, filename=upload.name if upload else "",
                text=None if upload is not None else text, source_format=data.get("paste_format") or "text",
            )
        except ValidationError as exc:
            self.add_error("file" if upload is not None else "text", exc.messages)
        return data


@admin.register(m.KnowledgeDocument)
class KnowledgeDocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "brand", "source_format", "embedding_model", "chunk_count", "flagged_count",
                    "freshness", "created_at"]
    list_filter = ["brand", "source_format", "embedding_model"]
    search_fields = ["title"]
    readonly_fields = ["brand", "title", "source_format", "embedding_model", "created_by", "created_at",
                       "chunk_count", "flagged_count", "body"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_chunks=Count("chunks"), n_flagged=Count("chunks", filter=Q(chunks__flagged=True))
        )

    @admin.display(description="chunks", ordering="n_chunks")
    def chunk_count(self, obj) -> int:
        return obj.n_chunks if hasattr(obj, "n_chunks") else obj.chunks.count()

    @admin.display(description="flagged", ordering="n_flagged")
    def flagged_count(self, obj) -> int:
        return obj.n_flagged if hasattr(obj, "n_flagged") else obj.chunks.filter(flagged=True).count()

    @admin.display(description="freshness", ordering="expires_at")
    def freshness(self, obj) -> str:
        return knowledge.freshness(obj).label

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = KnowledgeAddForm
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user
        return form

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["brand", "title", "file", "text", "paste_format", "expires_at"]
        return ["brand", "title", "source_format", "embedding_model", "expires_at", "chunk_count", "flagged_count",
                "created_by", "created_at", "body"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if change:  # only the expiry can change
            knowledge.document_set_expiry(user=request.user, document=obj, expires_at=obj.expires_at)
            return
        document = knowledge.document_ingest(
            brand=obj.brand, title=obj.title, body=form.body, user=request.user,
            source_format=form.source_format, expires_at=obj.expires_at,
        )
        obj.pk = document.pk

    def get_deleted_objects(self, objs, request):
        # Chunks are read-only in their own admin, yet go with their document (document_delete, audited).
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(m.KnowledgeChunk._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj) -> None:
        knowledge.document_delete(user=request.user, document=obj)

    def delete_queryset(self, request, queryset) -> None:
        for document in queryset:
            knowledge.document_delete(user=request.user, document=document)


@admin.register(m.KnowledgeChunk)
class KnowledgeChunkAdmin(ReadOnlyHistoryAdmin):
    list_display = ["document", "brand", "index", "dimensions", "flagged"]
    list_filter = ["flagged", "dimensions", "brand"]
    search_fields = ["text", "document__title"]
    exclude = ["embedding"]
