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
        from agents.budgets import spend_against_caps

        if obj is None or obj.brand_id is None:
            return None
        cache = getattr(obj, "_spend_cache", None)
        if cache is None:
            cache = obj._spend_cache = spend_against_caps(brand=obj.brand)
        return cache

    @staticmethod
    def _against(amount, cap) -> str:
        from agents.budgets import money

        if cap:
            return f"{money(amount)} of {money(cap)} ({amount / cap:.0%})"
        return money(amount)

    @admin.display(description="Spent today")
    def today_spent(self, obj) -> str:
        spend = self._spend(obj)
        return "—" if spend is None else self._against(spend["today_spent"] + spend["today_reserved"], obj.daily_cap)

    @admin.display(description="Held for calls in flight")
    def today_reserved(self, obj) -> str:
        from agents.budgets import money

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
