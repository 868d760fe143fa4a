"""Admin of the brief triage (agents/triage.py): categories and labelled examples, and a page to try
the classifier. Every write goes through a service."""
from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import path

from agents import models as m
from agents import triage


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
