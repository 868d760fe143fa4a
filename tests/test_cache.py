"""The exact-match prompt cache for deterministic (temperature 0) model versions."""
from __future__ import annotations

import pytest

from agents.calls import cache
from agents.models import AgentRun, ModelVersion, PromptCacheEntry, SpendDay
from editorial.models import Draft
from tests.helpers import drive, file_brief

pytestmark = pytest.mark.slow


def test_the_same_deterministic_prompt_is_answered_from_the_cache_for_free(world, model_at, monkeypatch):
    from agents.pipeline import kinds, writer

    first = file_brief(world)
    drive(first)
    first.refresh_from_db()
    assert len(model_at.requests) == 2 and PromptCacheEntry.objects.count() == 2
    spent = SpendDay.objects.get(brand=world.brand).spent

    events: list[tuple[int, dict]] = []
    real_push = writer.push_draft_event
    for module in (kinds, writer):
        monkeypatch.setattr(module, "push_draft_event", lambda pk, data, **kw: (events.append((pk, data)),
                                                                                 real_push(pk, data, **kw)))
    second = file_brief(world)  # the same brief again: the same rendered prompts
    drive(second)
    second.refresh_from_db()
    assert second.status == Draft.Status.IN_REVIEW
    assert len(model_at.requests) == 2  # no new model call
    assert second.current_revision.content == first.current_revision.content
    writer = second.runs.get(kind="write")
    assert writer.cache_hits == 2 and list(writer.sections.values_list("cache_hit", flat=True)) == [True, True]
    assert writer.cost == 0 and writer.tokens_out == 0
    assert SpendDay.objects.get(brand=world.brand).spent == spent  # nothing reserved, nothing spent
    deltas = [d for pk, d in events if pk == second.pk and "delta" in d]
    assert [d["delta"].strip() for d in deltas] == [s.text for s in first.runs.get(kind="write").sections.all()]
    prov = second.current_revision.provenance
    assert prov["cache_hits"] == 2 and prov["cached_sections"] == [0, 1] and prov["cost"] == "0E-8"
    assert first.current_revision.provenance["cache_hits"] == 0
    assert PromptCacheEntry.objects.filter(hits=1).count() == 2


def test_a_version_with_a_temperature_is_never_cached(world, model_at):
    ModelVersion.objects.filter(pk=world.model_version.pk).update(parameters={"temperature": 0.7})
    for _ in range(2):
        drive(file_brief(world))
    assert len(model_at.requests) == 4 and not PromptCacheEntry.objects.exists()


def test_a_different_brief_misses_the_cache(world, model_at):
    drive(file_brief(world, title="Autumn roast"))
    drive(file_brief(world, title="Winter roast"))
    assert len(model_at.requests) == 4
    assert not AgentRun.objects.filter(cache_hits__gt=0).exists()


def test_the_key_covers_version_prompt_parameters_and_max_tokens(world):
    mv = world.model_version
    other = ModelVersion.objects.create(name="Other", use_settings=True, parameters={"temperature": 0})
    base = cache.cache_key(version=mv, system="s", prompt="p", max_tokens=100)
    assert base == cache.cache_key(version=mv, system="s", prompt="p", max_tokens=100)
    assert len({
        base,
        cache.cache_key(version=other, system="s", prompt="p", max_tokens=100),
        cache.cache_key(version=mv, system="S", prompt="p", max_tokens=100),
        cache.cache_key(version=mv, system="s", prompt="p2", max_tokens=100),
        cache.cache_key(version=mv, system="s", prompt="p", max_tokens=101),
    }) == 5
    mv.parameters = {"temperature": 0, "stop": ["\n\n"]}
    assert cache.cache_key(version=mv, system="s", prompt="p", max_tokens=100) != base


def test_the_cache_can_be_switched_off(world, settings):
    assert cache.cacheable(world.model_version)
    settings.AIOS_PROMPT_CACHE = False
    assert not cache.cacheable(world.model_version)
