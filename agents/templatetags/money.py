"""`{{ run.cost|money }}`: a cost as budgets write it, in the deployment's currency (AIOS_CURRENCY_SYMBOL)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from agents.calls.budgets import money as money_text

register = template.Library()


@register.filter
def money(value: Any) -> str:
    if value is None or value == "":
        return "—"
    try:
        return money_text(Decimal(str(value)))
    except InvalidOperation:
        return str(value)
