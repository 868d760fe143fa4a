from __future__ import annotations

from typing import Any

from django import template

from agents.models import AgentRun

register = template.Library()


@register.simple_tag
def shadow_count(draft: Any) -> int:
    """How many shadow runs a draft has (the draft page links to them when there are any)."""
    return AgentRun.objects.filter(draft=draft, kind=AgentRun.Kind.SHADOW).count()
