from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils import timezone

from agents import admin_modelops  # noqa: F401 - registers model versions and prompt templates (+ versions)
from agents import knowledge, triage
from agents import models as m
from aios.admin_history import ReadOnlyHistoryAdmin
from governance.permissions import knowledge_policy


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


# --- knowledge base and triage (agents/knowledge.py, agents/triage.py): every write goes through a service ---

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


# --- budgets and spend (agents/budgets.py) -------------------------------------------------------
# One block on purpose: the model-version and template admin above is edited elsewhere.

@admin.register(m.Budget)
class BudgetAdmin(admin.ModelAdmin):
    """Caps per brand, with today's and this month's spend (and money held by calls in flight) next to them."""

    list_display = ["brand", "daily_cap", "today_spent", "today_reserved", "monthly_cap", "month_spent",
                    "run_token_cap", "on_exceed"]
    list_select_related = ["brand"]
    readonly_fields = ["today_spent", "today_reserved", "month_spent"]

    def save_model(self, request, obj, form, change) -> None:
        from django.db import transaction

        from governance.audit import audit_log

        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_log(action="agents.budget.change" if change else "agents.budget.create", obj=obj, user=request.user,
                      data={k: form.cleaned_data.get(k) for k in form.changed_data})

    def _spend(self, obj):
        from agents.calls.budgets import spend_against_caps

        if obj is None or obj.brand_id is None:
            return None
        cache = getattr(obj, "_spend_cache", None)
        if cache is None:
            cache = obj._spend_cache = spend_against_caps(brand=obj.brand)
        return cache

    @staticmethod
    def _against(amount, cap) -> str:
        from agents.calls.budgets import money

        if cap:
            return f"{money(amount)} of {money(cap)} ({amount / cap:.0%})"
        return money(amount)

    @admin.display(description="Spent today")
    def today_spent(self, obj) -> str:
        spend = self._spend(obj)
        return "—" if spend is None else self._against(spend["today_spent"] + spend["today_reserved"], obj.daily_cap)

    @admin.display(description="Held for calls in flight")
    def today_reserved(self, obj) -> str:
        from agents.calls.budgets import money

        spend = self._spend(obj)
        return "—" if spend is None else money(spend["today_reserved"])

    @admin.display(description="Spent this month")
    def month_spent(self, obj) -> str:
        spend = self._spend(obj)
        return "—" if spend is None else self._against(spend["month_total"], obj.monthly_cap)


@admin.register(m.SpendDay)
class SpendDayAdmin(ReadOnlyHistoryAdmin):
    """Booked spend per brand and day; written only by reservations and settlements."""

    list_display = ["day", "brand", "spent", "reserved"]
    list_filter = ["brand"]
    date_hierarchy = "day"


@admin.register(m.TriageCategory)
class TriageCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "risk", "example_count"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_examples=Count("examples"))

    @admin.display(description="examples", ordering="n_examples")
    def example_count(self, obj) -> int:
        return getattr(obj, "n_examples", 0)

    def save_model(self, request, obj, form, change) -> None:
        triage.triage_category_save(category=obj, user=request.user)

    def delete_model(self, request, obj) -> None:
        triage.triage_category_delete(category=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for category in queryset:
            triage.triage_category_delete(category=category, user=request.user)


@admin.register(m.TriageExample)
class TriageExampleAdmin(admin.ModelAdmin):
    """Labelled examples; the embedding (local all-MiniLM-L6-v2) is computed when one is saved."""

    list_display = ["short_text", "tone", "category", "embedded", "created_by", "created_at"]
    list_filter = ["category", "tone"]
    search_fields = ["text"]
    fields = ["text", "tone", "category"]

    def get_urls(self):
        from django.urls import path

        view = self.admin_site.admin_view(self.try_view)
        return [path("try/", view, name="agents_triageexample_try"), *super().get_urls()]

    def try_view(self, request):
        """Classify a pasted text with the current examples (nothing is stored)."""
        text = request.POST.get("text", "").strip()[:4000] if request.method == "POST" else ""
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": "Try the classifier",
                   "text": text, "result": triage.triage_predict(text) if text else None, "k": triage.K}
        return TemplateResponse(request, "admin/agents/triageexample/try.html", context)

    @admin.display(description="text")
    def short_text(self, obj) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"

    @admin.display(description="embedded", boolean=True)
    def embedded(self, obj) -> bool:
        return obj.embedding is not None

    def save_model(self, request, obj, form, change) -> None:
        triage.triage_example_save(example=obj, user=request.user)

    def delete_model(self, request, obj) -> None:
        triage.triage_example_delete(example=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for example in queryset:
            triage.triage_example_delete(example=example, user=request.user)
