"""What each kind of run does: the one table from a kind to its step and to what follows its success
or its failure. The Celery task (`run_execute`) and the stale-run sweeper both go through it.

| kind       | step                | after success                    | after failure                  |
| ---------- | ------------------- | -------------------------------- | ------------------------------ |
| plan       | steps.plan          | outline checkpoint, or retrieve  | the draft failed               |
| retrieve   | steps.retrieve      | write                            | the draft failed               |
| write      | steps.write         | shadow runs, then check          | the draft failed               |
| check      | steps.check         | the draft is in review           | the draft failed               |
| regenerate | regenerate_step     | a proposal waits for an editor   | the proposal failed            |
| shadow     | shadow_write        | nothing (compared in the desk)   | nothing: never the draft       |
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from agents.calls.backoff import backoff_delay
from agents.calls.budgets import BudgetExceeded, budget_release_run
from agents.calls.guarded import NeedsHuman, RunLimitExceeded
from agents.calls.providers import ProviderError
from agents.models import AgentRun
from agents.pipeline import regenerate, shadow, steps
from agents.pipeline.runs import (
    MAX_ATTEMPTS, ClaimLost, RunBusy, TransientRunError, lock_draft, progress_event, run_claim, run_mark_failed,
    run_mark_succeeded, run_retry_later, run_wait_for_budget,
)
from agents.pipeline.writer import SectionUnusable
from editorial.models import Draft
from editorial.realtime import push_draft_event

log = logging.getLogger(__name__)
Kind = AgentRun.Kind


def _nothing(run: AgentRun, draft: Draft | None, *rest: Any) -> None:
    return None


def _proposal_ready(run: AgentRun, draft: Draft) -> None:
    regenerate.regenerate_succeeded(run=run, draft=draft)


def _proposal_failed(run: AgentRun, draft: Draft, reason: str, needs_human: bool) -> None:
    regenerate.regenerate_failed(run=run, draft=draft, reason=reason)


@dataclass(frozen=True)
class KindSpec:
    step: Callable[[AgentRun], None]
    on_success: Callable[[AgentRun, Draft], None]
    on_failure: Callable[[AgentRun, Draft, str, bool], None]
    # A run that belongs to the draft's production takes the draft's row lock to finish and tells the
    # draft's watchers; a shadow does neither (it must never change or slow the draft).
    touches_draft: bool = True
    audit: Callable[[AgentRun], dict[str, Any]] | None = None


KINDS: dict[str, KindSpec] = {
    Kind.PLAN: KindSpec(steps.plan, steps.after_plan, steps.generation_failed),
    Kind.RETRIEVE: KindSpec(steps.retrieve_sources, steps.next_step, steps.generation_failed),
    Kind.WRITE: KindSpec(steps.write, steps.after_write, steps.generation_failed),
    Kind.CHECK: KindSpec(steps.check, steps.ready_for_review, steps.generation_failed),
    Kind.REGENERATE: KindSpec(regenerate.regenerate_step, _proposal_ready, _proposal_failed),
    Kind.SHADOW: KindSpec(shadow.shadow_write, _nothing, _nothing, touches_draft=False, audit=shadow.shadow_audit),
}


def run_execute(*, run_id: int) -> AgentRun | None:
    """Claim and perform one run. Raises TransientRunError when the task should retry."""
    try:
        run = run_claim(run_id=run_id)
    except RunBusy as exc:
        raise TransientRunError(str(exc), countdown=exc.countdown) from exc
    if run is None:
        return None
    spec = KINDS[run.kind]
    if run.reserved_cost:
        budget_release_run(run=run)  # held by a previous attempt that died mid-call
        run.reserved_cost = Decimal(0)
    if spec.touches_draft:
        push_draft_event(run.draft_id, progress_event(run))
    started = time.monotonic()
    try:
        spec.step(run)
    except BudgetExceeded as exc:
        if exc.wait_seconds is None:
            return run_fail(run=run, reason=str(exc))
        run_wait_for_budget(run=run, reason=str(exc), countdown=exc.wait_seconds, publish=spec.touches_draft)
    except RunLimitExceeded as exc:
        return run_fail(run=run, reason=str(exc))
    except NeedsHuman as exc:
        return run_fail(run=run, reason=str(exc), needs_human=True)
    except SectionUnusable as exc:
        # Nothing unusable reaches a reviewer: a person decides (the section keeps its tries and reasons).
        return run_fail(run=run, reason=str(exc), needs_human=True)
    except ClaimLost:
        log.warning("agent run %s: claim lost to another worker; stopping", run.pk)
        return None
    except ProviderError as exc:
        errors = run.error_count + 1
        if not exc.permanent and errors < MAX_ATTEMPTS:
            countdown = backoff_delay(errors - 1, exc.retry_after, base=2.0, cap=300.0)
            run_retry_later(run=run, reason=f"Attempt {errors} failed: {exc}; retrying in {countdown:.0f}s",
                            countdown=countdown, publish=spec.touches_draft)
        return run_fail(run=run, reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - any other error fails the run with its reason
        log.exception("agent run %s failed", run.pk)
        return run_fail(run=run, reason=f"Internal error: {exc.__class__.__name__}: {exc}")
    return run_succeed(run=run, latency_ms=(time.monotonic() - started) * 1000)


@transaction.atomic
def run_succeed(*, run: AgentRun, latency_ms: float) -> AgentRun:
    spec = KINDS[run.kind]
    draft = lock_draft(run) if spec.touches_draft else None
    run_mark_succeeded(run=run, latency_ms=latency_ms, audit=spec.audit(run) if spec.audit else None)
    spec.on_success(run, draft)
    if spec.touches_draft:
        event = progress_event(run, latency_ms=round(latency_ms, 1))
        transaction.on_commit(lambda: push_draft_event(run.draft_id, event))
    return run


@transaction.atomic
def run_fail(*, run: AgentRun, reason: str, needs_human: bool = False) -> AgentRun:
    """Fail the run; what that means for its draft (or proposal) is its kind's."""
    spec = KINDS[run.kind]
    draft = lock_draft(run) if spec.touches_draft else None
    run_mark_failed(run=run, reason=reason, audit=spec.audit(run) if spec.audit else None)
    spec.on_failure(run, draft, reason, needs_human)
    return run
