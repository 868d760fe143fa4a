"""The agent pipeline: plan → retrieve → write → check, each step its own AgentRun.

A run is claimed by a conditional status update, so a task delivered twice does its work once.
The next step's run is created in the transaction that finishes the previous one, under an
idempotency key derived from it, and enqueued on commit.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from agents.calls.backoff import backoff_delay
from agents.calls.providers import ProviderError, resolve
from agents.knowledge import document_ingest, retrieve  # noqa: F401 - moved there; callers still import them here
from agents.models import AgentRun, ModelVersion, PromptTemplateVersion, RunSection
from agents.pipeline.prompts import digest as _digest  # noqa: F401 - moved; kept until the pipeline split
from agents.pipeline.prompts import render_section_prompt
from editorial.realtime import push_draft_event
from editorial.transitions import draft_transition
from governance.audit import audit_log

log = logging.getLogger(__name__)

Kind = AgentRun.Kind
Status = AgentRun.Status
NEXT_STEP: dict[str, str | None] = {Kind.PLAN: Kind.RETRIEVE, Kind.RETRIEVE: Kind.WRITE, Kind.WRITE: Kind.CHECK, Kind.CHECK: None}
MAX_ATTEMPTS = 3


def stale_after() -> timedelta:
    """A run still "running" without a heartbeat for this long lost its worker and may be claimed again."""
    return timedelta(seconds=settings.AIOS_RUN_STALE_SECONDS)


class TransientRunError(Exception):
    """The step failed in a way that may succeed later; the task retries after `countdown`."""

    def __init__(self, message: str, *, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


# --- model choice and prompts ------------------------------------------------------------------

def model_version_for_brief(brief_id: int) -> ModelVersion | None:
    """Deterministic rollout: the same brief always lands on the same active version."""
    active = list(ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).order_by("id"))
    if not active:
        return None
    bucket = int(hashlib.sha256(f"brief:{brief_id}".encode()).hexdigest(), 16) % 100
    edge = 0
    for version in active:
        edge += version.rollout_share
        if bucket < edge:
            return version
    return active[0]


# --- runs ------------------------------------------------------------------------------------

def enqueue_run(run_id: int) -> None:
    from agents.tasks import run_step

    run_step.delay(run_id)


def run_create(*, draft: Any, kind: str, key: str) -> AgentRun:
    """Create (or find, when `key` was used before) a queued run and enqueue it on commit."""
    run, created = AgentRun.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "draft": draft,
            "kind": kind,
            "model_version": draft.model_version if kind == Kind.WRITE else None,
            "prompt_version": draft.prompt_version if kind in (Kind.PLAN, Kind.WRITE) else None,
        },
    )
    if created:
        transaction.on_commit(lambda: enqueue_run(run.pk))
    return run


@transaction.atomic
def pipeline_start(*, draft: Any) -> AgentRun:
    return run_create(draft=draft, kind=Kind.PLAN, key=f"draft:{draft.pk}:plan:start")


def run_claim(*, run_id: int) -> AgentRun | None:
    now = timezone.now()
    claimed = (
        AgentRun.objects.filter(pk=run_id)
        .filter(Q(status=Status.QUEUED) | Q(status=Status.RUNNING, heartbeat_at__lt=now - stale_after()))
        .update(
            status=Status.RUNNING,
            attempt_count=F("attempt_count") + 1,
            started_at=Coalesce(F("started_at"), now),
            heartbeat_at=now,
        )
    )
    if not claimed:
        return None
    return AgentRun.objects.select_related(
        "draft__brief__brand", "draft__model_version", "draft__prompt_version", "model_version", "prompt_version"
    ).get(pk=run_id)


def _progress(run: AgentRun, **extra: Any) -> dict[str, Any]:
    return {"kind": "run", "run": run.pk, "step": run.kind, "status": run.status, **extra}


def _previous_output(draft: Any, kind: str) -> AgentRun:
    return AgentRun.objects.filter(draft=draft, kind=kind, status=Status.SUCCEEDED).latest("finished_at")


def _step_plan(run: AgentRun) -> None:
    version = run.draft.prompt_version
    if version is None or not version.sections:
        raise ProviderError("The template has no active version with sections.", permanent=True)
    run.output = {"sections": [{"heading": s["heading"], "instruction": s.get("instruction", "")} for s in version.sections]}


def _step_retrieve(run: AgentRun) -> None:
    brief = run.draft.brief
    query = f"{brief.title}. {brief.goal} For {brief.audience}."
    document_ids = list(brief.sources.values_list("pk", flat=True))
    run.sources = retrieve(brand=brief.brand, query=query, k=settings.AIOS_RETRIEVE_K, document_ids=document_ids)


class ClaimLost(Exception):
    """This worker's claim on the run was taken over (it was thought dead): stop without writing."""


def _heartbeat(run: AgentRun) -> None:
    # Fenced by the attempt number: after the stale-run sweeper gave the run to another worker,
    # this one stops instead of writing the same section alongside it.
    if not AgentRun.objects.filter(pk=run.pk, status=Status.RUNNING, attempt_count=run.attempt_count).update(
        heartbeat_at=timezone.now()
    ):
        raise ClaimLost(f"run {run.pk} attempt {run.attempt_count} was taken over")


def _step_write(run: AgentRun) -> None:
    from agents.calls.guarded import generate, output_allowance

    draft = run.draft
    if run.model_version is None:
        raise ProviderError("No active model version is configured.", permanent=True)
    plan = _previous_output(draft, Kind.PLAN).output["sections"]
    sources = _previous_output(draft, Kind.RETRIEVE).sources
    resolved = resolve(run.model_version)
    run.model_name, run.sources = resolved.model, sources
    AgentRun.objects.filter(pk=run.pk).update(model_name=run.model_name, sources=sources)
    for index, section in enumerate(plan):
        RunSection.objects.get_or_create(run=run, index=index, defaults={"heading": section["heading"]})
    sections = list(run.sections.all())
    total = len(sections)
    max_tokens = int(run.model_version.parameters.get("max_tokens", settings.AIOS_LLM_MAX_TOKENS))
    started = time.monotonic()
    time_limit = run.model_version.max_run_seconds
    deadline = started + time_limit if time_limit else None
    tokens_out_total = sum(s.tokens_out for s in sections if s.done)
    tokens_in_total = sum(s.tokens_in for s in sections if s.done)

    for section in sections:
        if section.done:  # checkpoint: finished sections are never written twice
            continue
        system, prompt = render_section_prompt(
            version=run.prompt_version,
            brief=draft.brief,
            heading=section.heading,
            instruction=plan[section.index].get("instruction", ""),
            sources=sources,
            mode=resolved.mode,
        )
        section.prompt_hash = _digest(system, prompt)
        RunSection.objects.filter(pk=section.pk).update(prompt_hash=section.prompt_hash)
        pending = ""
        last_flush = time.monotonic()
        streamed = 0

        def reset() -> None:
            # Each try of the call (and a resumed run) starts the section afresh, on the page too.
            nonlocal pending, streamed
            section.text, pending, streamed = "", "", 0
            RunSection.objects.filter(pk=section.pk).update(text="")
            _heartbeat(run)
            push_draft_event(draft.pk, _progress(run, section=section.index, heading=section.heading, reset=True))

        def flush() -> None:
            nonlocal pending, last_flush
            if not pending:
                return
            offset = len(section.text)
            section.text += pending
            # Checkpoint first, then tell browsers: a page loaded in between never misses text.
            RunSection.objects.filter(pk=section.pk).update(text=section.text)
            _heartbeat(run)
            push_draft_event(
                draft.pk,
                _progress(
                    run,
                    section=section.index,
                    offset=offset,
                    delta=pending,
                    tokens=tokens_out_total + streamed,
                    sections_done=sum(1 for s in sections if s.done),
                    sections_total=total,
                ),
            )
            pending = ""
            last_flush = time.monotonic()

        def on_delta(delta: str) -> None:
            nonlocal pending, streamed
            if run.ttft_ms is None:
                run.ttft_ms = (time.monotonic() - started) * 1000
            pending += delta
            streamed += 1
            if time.monotonic() - last_flush >= settings.AIOS_STREAM_FLUSH_SECONDS:
                flush()

        left = sum(1 for s in sections if not s.done)
        result = generate(
            run=run, system=system, prompt=prompt,
            max_tokens=output_allowance(run, used_out=tokens_out_total, max_tokens=max_tokens, sections_left=left),
            tokens_used=tokens_in_total + tokens_out_total, deadline=deadline, time_limit=time_limit,
            on_reset=reset, on_delta=on_delta,
        )
        flush()
        section.text = section.text.strip()
        section.tokens_in, section.tokens_out, section.done = result.tokens_in, result.tokens_out, True
        section.cache_hit = result.cache_hit
        section.save(update_fields=["text", "tokens_in", "tokens_out", "done", "cache_hit"])
        if result.cache_hit:
            AgentRun.objects.filter(pk=run.pk).update(cache_hits=F("cache_hits") + 1)
        tokens_out_total += section.tokens_out
        tokens_in_total += section.tokens_in
        push_draft_event(
            draft.pk,
            _progress(
                run,
                section=section.index,
                done=True,
                text=section.text,
                tokens=tokens_out_total,
                sections_done=sum(1 for s in sections if s.done),
                sections_total=total,
            ),
        )

    run.prompt_hash = _digest(*(s.prompt_hash for s in sections))
    run.tokens_in = sum(s.tokens_in for s in sections)
    run.tokens_out = sum(s.tokens_out for s in sections)
    # Every call of this run (failed tries included) was costed as it settled (agents/budgets.py).
    run.cost, run.reserved_cost, run.cache_hits = AgentRun.objects.values_list(
        "cost", "reserved_cost", "cache_hits").get(pk=run.pk)
    run.model_name = resolve(run.model_version).model


def _step_check(run: AgentRun) -> None:
    from agents.grounding import ground
    from editorial.revisions import revision_create
    from governance.models import Finding
    from governance.policies import FindingData, evaluate, findings_record, rule_set_version_for

    draft = run.draft
    writer = _previous_output(draft, Kind.WRITE)
    sections = list(writer.sections.all())
    content = "\n\n".join(f"## {s.heading}\n\n{s.text}" for s in sections)
    # Sentence → best supporting chunk (agents/grounding.py); the brand's own name is not a claim.
    grounding = ground(content, writer.sources, known_names=[draft.brand.name])
    version = rule_set_version_for(draft.brand)
    findings = evaluate(content, channel=draft.brief.channel, version=version) + grounding.findings + [
        FindingData(
            category="prompt_injection",
            severity=Finding.Severity.WARNING,
            message=f"The source “{s['title']}” used for this draft contains instruction-like text; "
            "check that the draft did not follow it.",
        )
        for s in writer.sources
        if s.get("flagged")
    ]
    runs = list(draft.runs.filter(status=Status.SUCCEEDED).order_by("created_at"))
    mv = writer.model_version
    provenance = {
        "model_version": {"id": mv.pk, "name": mv.name} if mv else None,
        "model": writer.model_name,
        "prompt_template_version": (
            {"id": writer.prompt_version_id, "label": str(writer.prompt_version)} if writer.prompt_version else None
        ),
        "prompt_hash": writer.prompt_hash,
        "sources": [{k: s[k] for k in ("chunk_id", "document_id", "title", "score")} for s in writer.sources],
        "tokens_in": writer.tokens_in,
        "tokens_out": writer.tokens_out,
        "cost": str(writer.cost),
        "cache_hits": writer.cache_hits,
        "cached_sections": [s.index for s in sections if s.cache_hit],
        "fallback_from": (
            {"id": writer.fallback_from_id, "name": writer.fallback_from.name} if writer.fallback_from_id else None
        ),
        "ttft_ms": writer.ttft_ms,
        "runs": [{"id": r.pk, "kind": r.kind} for r in runs] + [{"id": run.pk, "kind": run.kind}],
        "rule_set_version": version.pk if version else None,
        "sentences": grounding.sentences,
    }
    revision = revision_create(
        draft=draft, content=content, author_run=writer, provenance=provenance, note="Generated by the pipeline"
    )
    findings_record(revision=revision, run=run, version=version, findings=findings)
    run.output = {"revision": revision.pk, "findings": len(findings)}


def _step_regenerate(run: AgentRun) -> None:  # regen: one section again, as a proposal (agents/regenerate.py)
    from agents.regenerate import regenerate_step

    regenerate_step(run)


STEPS: dict[str, Callable[[AgentRun], None]] = {
    Kind.PLAN: _step_plan,
    Kind.RETRIEVE: _step_retrieve,
    Kind.WRITE: _step_write,
    Kind.CHECK: _step_check,
    Kind.REGENERATE: _step_regenerate,  # regen
}


def run_execute(*, run_id: int) -> AgentRun | None:
    """Claim and perform one step. Raises TransientRunError when the task should retry."""
    from agents.calls.budgets import BudgetExceeded
    from agents.calls.guarded import NeedsHuman, RunLimitExceeded

    if AgentRun.objects.filter(pk=run_id, kind=Kind.SHADOW).exists():
        # A shadow write sent here by mistake (it has its own task) must never fail the draft.
        from agents.shadow import ShadowRetry, shadow_execute

        try:
            return shadow_execute(run_id=run_id)
        except ShadowRetry as exc:
            raise TransientRunError(str(exc), countdown=exc.countdown) from exc
    run = run_claim(run_id=run_id)
    if run is None:
        return None
    if run.reserved_cost:
        from agents.calls.budgets import budget_release_run

        budget_release_run(run=run)  # held by a previous attempt that died mid-call
        run.reserved_cost = Decimal(0)
    push_draft_event(run.draft_id, _progress(run))
    started = time.monotonic()
    try:
        STEPS[run.kind](run)
    except BudgetExceeded as exc:
        if exc.wait_seconds is None:
            return run_fail(run=run, reason=str(exc))
        return run_wait_for_budget(run=run, reason=str(exc), countdown=exc.wait_seconds)
    except RunLimitExceeded as exc:
        return run_fail(run=run, reason=str(exc))
    except NeedsHuman as exc:
        return run_fail(run=run, reason=str(exc), needs_human=True)
    except ClaimLost:
        log.warning("agent run %s: claim lost to another worker; stopping", run.pk)
        return None
    except ProviderError as exc:
        if not exc.permanent and run.attempt_count < MAX_ATTEMPTS:
            countdown = backoff_delay(run.attempt_count - 1, exc.retry_after, base=2.0, cap=300.0)
            AgentRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
                status=Status.QUEUED, error=f"Attempt {run.attempt_count} failed: {exc}; retrying in {countdown:.0f}s"
            )
            push_draft_event(run.draft_id, _progress(run, retrying_in=round(countdown, 1), error=str(exc)))
            raise TransientRunError(str(exc), countdown=countdown) from exc
        return run_fail(run=run, reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - any other error fails the run with its reason
        log.exception("agent run %s failed", run.pk)
        return run_fail(run=run, reason=f"Internal error: {exc.__class__.__name__}: {exc}")
    return run_succeed(run=run, latency_ms=(time.monotonic() - started) * 1000)


@transaction.atomic
def run_succeed(*, run: AgentRun, latency_ms: float) -> AgentRun:
    from editorial.models import Draft

    # Lock order everywhere: the draft row first, then the audit chain's advisory lock (audit_log).
    # Taking them the other way round deadlocked against a claim or edit of the same draft.
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=run.draft_id)
    run.status = Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.latency_ms = latency_ms
    run.error = ""
    run.save()
    audit_log(action=f"agents.run.{run.kind}.succeed", obj=run, run=run, data={"draft": run.draft_id})
    # regen: a rewrite ends in a proposal, not a next step; an outline checkpoint pauses after the plan.
    if run.kind == Kind.REGENERATE:
        from agents.regenerate import regenerate_succeeded

        return regenerate_succeeded(run=run, draft=draft)
    if run.kind == Kind.PLAN:
        from agents.outline import outline_pause

        if outline_pause(run=run, draft=draft):
            return run
    # /regen
    next_kind = NEXT_STEP[run.kind]
    if run.kind == Kind.WRITE:
        from agents.shadow import shadow_runs_start

        shadow_runs_start(write_run=run)  # never raises: a shadow's trouble is never the draft's
    if next_kind is not None:
        run_create(draft=run.draft, kind=next_kind, key=f"draft:{run.draft_id}:{next_kind}:after:{run.pk}")
    else:
        revision_id = run.output["revision"]
        draft_transition(draft=draft, to=Draft.Status.IN_REVIEW, reason="", action="editorial.draft.ready_for_review",
                         run=run, fields={"current_revision_id": revision_id}, data={"revision": revision_id})
    data = _progress(run, latency_ms=round(latency_ms, 1))
    transaction.on_commit(lambda: push_draft_event(run.draft_id, data))
    return run


def run_wait_for_budget(*, run: AgentRun, reason: str, countdown: float) -> AgentRun:
    """Put the run back in the queue until budget frees up; waiting uses none of its attempts."""
    from editorial.models import Draft

    message = f"Waiting for budget: {reason} Next check in {countdown:.0f} s."
    AgentRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
        status=Status.QUEUED, error=message, attempt_count=Greatest(F("attempt_count") - 1, 0)
    )
    # Not a change of state (still generating), just the reason the desk shows meanwhile.
    Draft.objects.filter(pk=run.draft_id, status=Draft.Status.GENERATING).update(status_reason=message)
    push_draft_event(run.draft_id, _progress(run, retrying_in=round(countdown, 1), error=message))
    raise TransientRunError(message, countdown=countdown)


@transaction.atomic
def run_fail(*, run: AgentRun, reason: str, needs_human: bool = False) -> AgentRun:
    """Fail the run; its draft fails too, or, when no model can be called at all, needs a human."""
    from editorial.models import Draft

    # Lock order: the draft row first, then the audit chain's advisory lock (audit_log).
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=run.draft_id)
    run.status = Status.FAILED
    run.error = reason
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    if run.kind == Kind.REGENERATE:  # regen: a failed rewrite fails its proposal, never the draft
        from agents.regenerate import regenerate_failed

        return regenerate_failed(run=run, draft=draft, reason=reason)
    audit_log(action=f"agents.run.{run.kind}.fail", obj=run, run=run, data={"draft": run.draft_id, "error": reason})
    if draft.status == Draft.Status.GENERATING:
        draft_transition(
            draft=draft, to=Draft.Status.NEEDS_HUMAN if needs_human else Draft.Status.FAILED,
            reason=f"The {run.get_kind_display().lower()} step failed: {reason}", action="editorial.draft.generation_failed",
            run=run, data={"run": run.pk},
        )
        from editorial.notifications import notify_generation_failed
        transaction.on_commit(lambda: notify_generation_failed(draft_id=draft.pk), robust=True)
    return run


@transaction.atomic
def pipeline_retry(*, draft: Any, user: Any) -> AgentRun:
    """Start again from the failed step; a failed write keeps the sections it had finished."""
    from editorial.models import Draft

    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    if draft.status not in (Draft.Status.FAILED, Draft.Status.NEEDS_HUMAN):
        raise ValueError("Only a draft whose generation failed can be retried.")
    failed = draft.runs.filter(status=Status.FAILED).latest("finished_at")
    if draft.status == Draft.Status.NEEDS_HUMAN and draft.model_version is not None:
        from agents.calls.breaker import breaker_probe_now

        breaker_probe_now(draft.model_version, user=user)  # the person says the model is back: try it
    run = run_create(draft=draft, kind=failed.kind, key=f"draft:{draft.pk}:{failed.kind}:retry-of:{failed.pk}")
    if failed.kind == Kind.WRITE:
        RunSection.objects.bulk_create(
            [
                RunSection(run=run, index=s.index, heading=s.heading, text=s.text, done=True,
                           tokens_in=s.tokens_in, tokens_out=s.tokens_out, prompt_hash=s.prompt_hash,
                           cache_hit=s.cache_hit)
                for s in failed.sections.filter(done=True)
            ],
            ignore_conflicts=True,
        )
    draft_transition(draft=draft, to=Draft.Status.GENERATING, reason="", action="agents.pipeline.retry", user=user,
                     data={"failed_run": failed.pk, "run": run.pk})
    return run
