from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

register = template.Library()


def format_value(value: Any, unit: str) -> str:
    """A figure as an editor reads it: durations in s/min/h/d, money in AIOS_CURRENCY_SYMBOL, shares in percent."""
    if value is None:
        return "—"
    value = float(value)
    if value < 0:
        return "−" + format_value(-value, unit)
    if unit == "s":
        if value < 90:
            return f"{value:.1f} s"
        if value < 5400:
            return f"{value / 60:.1f} min"
        if value < 172800:
            return f"{value / 3600:.1f} h"
        return f"{value / 86400:.1f} d"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "$":
        symbol = settings.AIOS_CURRENCY_SYMBOL
        return f"{symbol}{value:,.2f}" if abs(value) >= 10 else f"{symbol}{value:,.4f}"
    if unit == "%":
        return f"{value * 100:.1f}%"
    return f"{value:,.2f}"


@register.filter
def figure(value: Any, unit: str) -> str:
    return format_value(value, unit)


@register.filter
def signed(value: Any, unit: str) -> str:
    text = format_value(value, unit)
    return f"+{text}" if value is not None and float(value) > 0 else text


@register.filter
def get(mapping: dict, key: str) -> Any:
    return mapping.get(key)
