"""One model call of a run, made dependable: cache, breaker and fallback, budget, retries, limits.

`generate()` is what a step calls to turn (system, prompt) into text. In order it
1. answers from the prompt cache when the version is deterministic (no model call, no cost);
2. checks the brand's per-run token cap;
3. picks the run's model version, or its fallback when that version's circuit breaker is open
   (recorded on the run: `model_version` becomes the fallback, `fallback_from` the original);
   when no version in the chain may be called the draft needs a human (`NeedsHuman`);
4. reserves the estimated cost on the brand's budget (`BudgetExceeded` when a cap would be passed);
5. streams, checking the per-run time limit between deltas;
6. settles the actual cost (also of a failed attempt), reports the outcome to the breaker, stores
   a complete reply (finish reason "stop") in the cache;
7. retries transient errors in place with the project's backoff (agents/calls/backoff.py, honouring
   Retry-After up to AIOS_CALL_RETRY_MAX_WAIT); beyond that the error goes up and Celery retries the
   run later. A stream that ends without a finish reason is such an error: its text is dropped and
   the call is made again from scratch (`on_reset`).

The result carries the finish reason: "length" (cut off at max_tokens) is returned, not raised; the
writer decides whether to trim or continue. `stop` (stop sequences) and `overrides` (sampling
settings for this call, e.g. another temperature or seed for a retry) reach the provider and are
part of the cache key.

Limits: `ModelVersion.max_run_tokens` caps the output tokens of a whole run. It is enforced by
lowering each call's max_tokens to what is left, so a run never exceeds it; when nothing is left
and sections remain, the run fails with the reason (truncating silently would ship a draft with
missing sections). `ModelVersion.max_run_seconds` bounds one execution of the run (like the task
time limit) and is checked between deltas; past it the run fails with the reason.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from agents.calls import breaker, budgets, cache
from agents.calls.backoff import backoff_delay
from agents.calls.providers import ProviderError, Usage, provider_for
from agents.models import AgentRun, ModelVersion

log = logging.getLogger(__name__)


class RunLimitExceeded(Exception):
    """A per-run limit (time or tokens) was reached: the run fails with this reason."""


class NeedsHuman(Exception):
    """No model version can be called (breakers open, no working fallback): a person must decide."""


@dataclass
class CallResult:
    text: str
    tokens_in: int
    tokens_out: int
    cost: Decimal
    cache_hit: bool
    version: ModelVersion
    # Why the reply ended: "stop" (also every cache hit: only complete replies are cached) or
    # "length" (max_tokens cut it off mid-way), or another reason the server named.
    finish_reason: str | None = None


def _use_version(run: AgentRun, *, last_error: str = "") -> ModelVersion:
    """The run's version, or the first of its fallbacks whose breaker admits a call."""
    current = run.model_version
    for candidate in breaker.fallback_chain(current):
        if breaker.breaker_allow(candidate, run=run):
            if candidate.pk != current.pk:
                # Stay on the fallback for the rest of the run: one voice per draft.
                run.fallback_from = run.fallback_from or current
                run.model_version = candidate
                AgentRun.objects.filter(pk=run.pk).update(
                    model_version=candidate, fallback_from=run.fallback_from
                )
                log.warning("run %s falls back from %s to %s", run.pk, current, candidate)
            return candidate
    origin = run.fallback_from or current
    names = ", ".join(v.name for v in breaker.fallback_chain(origin))
    raise NeedsHuman(
        f"No model version is available: the circuit breaker is open for {names} after repeated failures"
        + ("" if origin.fallback_id else " and no fallback version is configured")
        + ". Check the model server, then retry."
        + (f" Last error: {last_error}" if last_error else "")
    )


def _provider(run: AgentRun, version: ModelVersion):
    """One provider (one SDK client, one connection pool) per version for the whole run: building
    a client per call costs tens of milliseconds (TLS context, pool)."""
    providers = run.__dict__.setdefault("_providers", {})
    if version.pk not in providers:
        providers[version.pk] = provider_for(version)
    return providers[version.pk]


def output_allowance(run: AgentRun, *, used_out: int, max_tokens: int, sections_left: int) -> int:
    """max_tokens for the next call under the version's per-run output-token limit."""
    limit = run.model_version.max_run_tokens
    if limit is None:
        return max_tokens
    left = limit - used_out
    if left <= 0:
        raise RunLimitExceeded(
            f"The run reached the output limit of {limit} tokens of model version {run.model_version.name} "
            f"with {sections_left} section(s) still to write."
        )
    return min(max_tokens, left)


def generate(
    *,
    run: AgentRun,
    system: str,
    prompt: str,
    max_tokens: int,
    tokens_used: int,
    deadline: float | None,
    time_limit: int | None = None,
    on_reset: Callable[[], None],
    on_delta: Callable[[str], None],
    stop: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    isolated: bool = False,
) -> CallResult:
    """Text for one prompt (see the module docstring). `tokens_used`: in + out of the run so far.
    `isolated` (a shadow run): the run's own version only, without the prompt cache, the breaker or
    fallbacks, since a shadow must test its own version; budgets, limits and retries still apply."""
    version = run.model_version
    use_cache = not isolated and cache.cacheable(version, overrides=overrides)
    if use_cache:
        key = cache.cache_key(version=version, system=system, prompt=prompt, max_tokens=max_tokens, stop=stop,
                              overrides=overrides)
        entry = cache.cache_get(key=key)
        if entry is not None:
            on_reset()
            on_delta(entry.text)  # the page still sees the text arrive, as one delta
            return CallResult(text=entry.text, tokens_in=0, tokens_out=0, cost=Decimal(0), cache_hit=True,
                              version=version, finish_reason="stop")

    brand = run.draft.brand
    prompt_estimate = budgets.estimate_tokens(f"{system}\n\n{prompt}")
    caps = budgets.budget_for(brand)
    budgets.check_run_tokens(brand=brand, used=tokens_used, needed=prompt_estimate + max_tokens, budget=caps)

    attempt = 0
    last_error = ""
    while True:
        version = run.model_version if isolated else _use_version(run, last_error=last_error)
        estimate = budgets.call_cost(version, tokens_in=prompt_estimate, tokens_out=max_tokens)
        reservation = budgets.budget_reserve(brand=brand, amount=estimate, run_id=run.pk, budget=caps)
        usage = Usage()
        parts: list[str] = []
        try:
            on_reset()
            for delta in _provider(run, version).stream(system=system, prompt=prompt, max_tokens=max_tokens,
                                                      usage=usage, stop=stop, overrides=overrides):
                if deadline is not None and time.monotonic() > deadline:
                    raise RunLimitExceeded(
                        f"The run took longer than its time limit of {time_limit} s (model version {version.name})."
                    )
                parts.append(delta)
                on_delta(delta)
        except (ProviderError, RunLimitExceeded) as exc:
            tokens_in = usage.prompt_tokens or (prompt_estimate if parts else 0)
            budgets.budget_settle(
                reservation=reservation, run_id=run.pk,
                cost=budgets.call_cost(version, tokens_in=tokens_in, tokens_out=usage.completion_tokens),
            )
            if isinstance(exc, RunLimitExceeded) or exc.permanent:
                raise
            if not isolated:
                breaker.breaker_record_failure(version, reason=str(exc), run=run)
            last_error = str(exc)
            retry_after = exc.retry_after
            if attempt >= settings.AIOS_CALL_RETRIES or (
                retry_after is not None and retry_after > settings.AIOS_CALL_RETRY_MAX_WAIT
            ):
                raise
            delay = backoff_delay(attempt, retry_after, base=settings.AIOS_CALL_RETRY_BASE,
                                  cap=settings.AIOS_CALL_RETRY_MAX_WAIT)
            log.info("run %s: %s; retrying the call in %.2fs", run.pk, exc, delay)
            attempt += 1
            time.sleep(delay)
            continue
        except BaseException:
            # Anything else (a bug, the task's soft time limit): never leave money reserved.
            budgets.budget_settle(reservation=reservation, run_id=run.pk, cost=Decimal(0))
            raise
        cost = budgets.call_cost(version, tokens_in=usage.prompt_tokens, tokens_out=usage.completion_tokens)
        budgets.budget_settle(reservation=reservation, cost=cost, run_id=run.pk)
        if not isolated:
            breaker.breaker_record_success(version, run=run)
        text = "".join(parts)
        # A reply cut off at max_tokens is not cached: the writer trims or continues it, and a hit
        # could not say that it was cut.
        if usage.finish_reason == "stop" and use_cache:
            cache.cache_put(
                key=cache.cache_key(version=version, system=system, prompt=prompt, max_tokens=max_tokens, stop=stop,
                                    overrides=overrides),
                version=version, text=text, tokens_in=usage.prompt_tokens, tokens_out=usage.completion_tokens,
            )
        return CallResult(text=text, tokens_in=usage.prompt_tokens, tokens_out=usage.completion_tokens, cost=cost,
                          cache_hit=False, version=version, finish_reason=usage.finish_reason)
