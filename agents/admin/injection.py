"""Admin of the source-injection scorer (agents/injection.py): labelled examples, and a page to try
the scorer on a pasted text. Every write goes through a service."""
from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path

from agents import injection
from agents import models as m


@admin.register(m.InjectionExample)
class InjectionExampleAdmin(admin.ModelAdmin):
    """Sentences labelled as addressed to the assistant or not; embedded (local all-MiniLM-L6-v2) when saved."""

    list_display = ["short_text", "is_injection", "embedded", "created_by", "updated_at"]
    list_filter = ["is_injection"]
    search_fields = ["text", "note"]
    fields = ["text", "is_injection", "note"]

    def get_urls(self):
        view = self.admin_site.admin_view(self.try_view)
        return [path("try/", view, name="agents_injectionexample_try"), *super().get_urls()]

    def try_view(self, request):
        """Score a pasted source text with the current examples and patterns (nothing is stored)."""
        text = request.POST.get("text", "").strip()[:20000] if request.method == "POST" else ""
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": "Try the scorer",
                   "text": text, "findings": injection.source_injection(text) if text else None,
                   "k": injection.K, "threshold": injection.THRESHOLD}
        return TemplateResponse(request, "admin/agents/injectionexample/try.html", context)

    @admin.display(description="text")
    def short_text(self, obj) -> str:
        return obj.text if len(obj.text) <= 90 else obj.text[:89] + "…"

    @admin.display(description="embedded", boolean=True)
    def embedded(self, obj) -> bool:
        return obj.embedding is not None

    def save_model(self, request, obj, form, change) -> None:
        injection.injection_example_save(example=obj, user=request.user)

    def delete_model(self, request, obj) -> None:
        injection.injection_example_delete(example=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for example in queryset:
            injection.injection_example_delete(example=example, user=request.user)
