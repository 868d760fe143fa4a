"""The draft page's panels, drawn from the values the page's context gives them
(editorial/draftpage.py builds both); nothing here reads the database."""
from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("editorial/_regen.html", takes_context=True)
def render_regen_panel(context: template.Context, panel: dict[str, Any]) -> dict[str, Any]:
    """The outline checkpoint and the proposal panel (`regen_panel_context`)."""
    return {**panel, "request": context.get("request")}


@register.inclusion_tag("editorial/comments.html#panel", takes_context=True)
def render_comments_panel(context: template.Context, panel: dict[str, Any]) -> dict[str, Any]:
    """The comments panel (`comments_panel_context`); its htmx posts swap it for the same partial."""
    return {**panel, "request": context.get("request")}
