"""Exact-match prompt cache for deterministic settings.

Only a call at `temperature: 0` (the model version's parameters, or the call's own overrides) is
cached: with any other temperature the same prompt is meant to give another text. The key covers
everything that decides the output: the model version, the rendered system text and prompt, the
parameters, the call's sampling overrides, its stop sequences and max_tokens. A hit costs nothing
and calls no model; the writer records it on the section, the run and in provenance.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from agents.models import PromptCacheEntry


def cacheable(version: Any, *, overrides: dict[str, Any] | None = None) -> bool:
    if not settings.AIOS_PROMPT_CACHE:
        return False
    temperature = {**(version.parameters or {}), **(overrides or {})}.get("temperature")
    try:
        return temperature is not None and float(temperature) == 0.0
    except (TypeError, ValueError):
        return False


def cache_key(
    *, version: Any, system: str, prompt: str, max_tokens: int, stop: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> str:
    parameters = {k: v for k, v in (version.parameters or {}).items() if k != "max_tokens"}
    material: dict[str, Any] = {"model_version": version.pk, "system": system, "prompt": prompt,
                                "parameters": parameters, "max_tokens": max_tokens}
    # Only present when given, so the keys of calls without them (the rows already stored) stay the same.
    if stop:
        material["stop"] = list(stop)
    if overrides:
        material["overrides"] = overrides
    text = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_get(*, key: str) -> PromptCacheEntry | None:
    entry = PromptCacheEntry.objects.filter(key=key).first()
    if entry is not None:
        PromptCacheEntry.objects.filter(pk=entry.pk).update(hits=F("hits") + 1, last_hit_at=timezone.now())
    return entry


def cache_put(*, key: str, version: Any, text: str, tokens_in: int, tokens_out: int) -> None:
    # The first writer wins; a concurrent identical call just finds the row there.
    PromptCacheEntry.objects.bulk_create(
        [PromptCacheEntry(key=key, model_version_id=version.pk, text=text, tokens_in=tokens_in, tokens_out=tokens_out)],
        ignore_conflicts=True,
    )
