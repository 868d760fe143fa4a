"""Exact-match prompt cache for deterministic settings.

Only a model version whose parameters say `temperature: 0` is cached: with any other temperature
the same prompt is meant to give another text. The key covers everything that decides the output:
the model version, the rendered system text and prompt, the parameters and max_tokens. A hit costs
nothing and calls no model; the writer records it on the section, the run and in provenance.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from agents.models import PromptCacheEntry


def cacheable(version: Any) -> bool:
    if not settings.AIOS_PROMPT_CACHE:
        return False
    temperature = (version.parameters or {}).get("temperature")
    try:
        return temperature is not None and float(temperature) == 0.0
    except (TypeError, ValueError):
        return False


def cache_key(*, version: Any, system: str, prompt: str, max_tokens: int) -> str:
    parameters = {k: v for k, v in (version.parameters or {}).items() if k != "max_tokens"}
    material = json.dumps(
        {"model_version": version.pk, "system": system, "prompt": prompt, "parameters": parameters,
         "max_tokens": max_tokens},
        sort_keys=True, ensure_ascii=False, default=str,
    )
    return hashlib.sha256(material.encode()).hexdigest()


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
