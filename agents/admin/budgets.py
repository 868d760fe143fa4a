"""Admin of budgets and spend (agents/calls/budgets.py): caps per brand, and booked spend per day."""
from __future__ import annotations

from django.contrib import admin
from django.db import transaction

from agents import models as m
from agents.calls.budgets import money, spend_against_caps
from aios.admin_history import ReadOnlyHistoryAdmin
from governance.audit import audit_log


@admin.register(m.Budget)
class BudgetAdmin(admin.ModelAdmin):
    """Caps per brand, with today's and this month's spend (and money held by calls in flight) next to them."""

    list_display = ["brand", "daily_cap", "today_spent", "today_reserved", "monthly_cap", "month_spent",
                    "run_token_cap", "on_exceed"]
    list_select_related = ["brand"]
    readonly_fields = ["today_spent", "today_reserved", "month_spent"]

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_log(action="agents.budget.change" if change else "agents.budget.create", obj=obj, user=request.user,
                      data={k: form.cleaned_data.get(k) for k in form.changed_data})

    def _spend(self, obj):
        if obj is None or obj.brand_id is None:
            return None
        cache = getattr(obj, "_spend_cache", None)
        if cache is None:
            cache = obj._spend_cache = spend_against_caps(brand=obj.brand)
        return cache

    @staticmethod
    def _against(amount, cap) -> str:
        if cap:
            return f"{money(amount)} of {money(cap)} ({amount / cap:.0%})"
        return money(amount)

    @admin.display(description="Spent today")
    def today_spent(self, obj) -> str:
        spend = self._spend(obj)
        return "—" if spend is None else self._against(spend["today_spent"] + spend["today_reserved"], obj.daily_cap)

    @admin.display(description="Held for calls in flight")
    def today_reserved(self, obj) -> str:
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
