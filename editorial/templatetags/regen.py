"""`{% regen_panel %}`: the draft page's outline checkpoint and proposal panel, from the page's context.

An inclusion tag rather than more context in editorial/views.py, so the draft page view needs no change;
views_regen.py passes bound forms (with their errors) through the same context names."""
from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("editorial/_regen.html", takes_context=True)
def regen_panel(context: template.Context) -> dict:
    from editorial.views_regen import regen_context

    request = context["request"]
    return regen_context(
        request,
        context["draft"],
        regen_form=context.get("regen_form"),
        outline_rows=context.get("outline_rows"),
        outline_error=context.get("outline_error", ""),
    ) | {"csrf_token": context.get("csrf_token"), "request": request}
