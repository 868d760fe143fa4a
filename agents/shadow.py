"""Shadow runs: each model version in SHADOW status writes the same sections with the same prompts
as the draft's writer, after it. The text is stored with its provenance (RunSection rows, tokens,
cost, latency, model, prompt hash) to be compared in the desk; it is never the draft.

Isolation is the point: a shadow run never touches the draft row, its revisions or its status,
pushes nothing to the draft's live channel, and its failure (or the failure to start it) is
recorded on the shadow run only.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agents.calls import budgets
from agents.calls.backoff import backoff_delay
from agents.calls.providers import ProviderError, Usage, provider_for, resolve
from agents.models import AgentRun, ModelVersion, RunSection
from governance.audit import audit_log

log = logging.getLogger(__name__)

Kind = AgentRun.Kind
Status = AgentRun.Status
MAX_ATTEMPTS = 3
HEARTBEAT_SECONDS = 1.0


def shadow_key(*, write_run: AgentRun, version: ModelVersion) -> str:
    return f"draft:{write_run.draft_id}:shadow:write:{write_run.pk}:version:{version.pk}"


def enqueue_shadow(run_id: int) -> None:
    from agents.tasks import shadow_step

    shadow_step.delay(run_id)


def shadow_runs_start(*, write_run: AgentRun) -> list[AgentRun]:
    """Queue one shadow run per shadow version for a write run that just succeeded. Runs inside the
    caller's transaction (in a savepoint) and never raises, so the draft's pipeline goes on."""
    try:
        with transaction.atomic():
            versions = ModelVersion.objects.filter(status=ModelVersion.Status.SHADOW).exclude(
                pk=write_run.model_version_id
            ).order_by("id")
            runs = []
            for version in versions:
                run, created = AgentRun.objects.get_or_create(
                    idempotency_key=shadow_key(write_run=write_run, version=version),
                    defaults={
                        "draft_id": write_run.draft_id,
                        "kind": Kind.SHADOW,
                        "model_version": version,
                        "prompt_version": write_run.prompt_version,
                        "input": {"write_run": write_run.pk},
                    },
                )
                if created:
                    transaction.on_commit(lambda pk=run.pk: _enqueue_quietly(pk))
                runs.append(run)
            return runs
    except Exception:  # a shadow that cannot start must not stop the draft
        log.exception("could not start shadow runs for write run %s", write_run.pk)
        return []


def _enqueue_quietly(run_id: int) -> None:
    try:
        enqueue_shadow(run_id)
    except Exception:
        log.exception("could not enqueue shadow run %s", run_id)


def _claim(run_id: int) -> AgentRun | None:
    from django.db.models import Q
    from django.db.models.functions import Coalesce

    from agents.services import stale_after

    now = timezone.now()
    claimed = (
        AgentRun.objects.filter(pk=run_id, kind=Kind.SHADOW)
        .filter(Q(status=Status.QUEUED) | Q(status=Status.RUNNING, heartbeat_at__lt=now - stale_after()))
        .update(status=Status.RUNNING, attempt_count=F("attempt_count") + 1,
                started_at=Coalesce(F("started_at"), now), heartbeat_at=now)
    )
    if not claimed:
        return None
    return AgentRun.objects.select_related("draft__brief__brand", "model_version", "prompt_version").get(pk=run_id)


def _write(run: AgentRun) -> None:
    """The writer's sections, prompts and sources, with this run's model version. No live events."""
    from agents.pipeline.prompts import digest as _digest, render_section_prompt

    if run.model_version is None or run.prompt_version is None:
        raise ProviderError("The shadow run has no model or template version.", permanent=True)
    writer = AgentRun.objects.get(pk=run.input["write_run"])
    written = list(writer.sections.order_by("index"))
    plan_run = (AgentRun.objects.filter(draft_id=run.draft_id, kind=Kind.PLAN, status=Status.SUCCEEDED)
                .order_by("-finished_at").first())
    plan = plan_run.output.get("sections", []) if plan_run else []
    instructions = {i: s.get("instruction", "") for i, s in enumerate(plan)}
    resolved = resolve(run.model_version)
    provider = provider_for(run.model_version)
    run.model_name, run.sources = resolved.model, writer.sources
    AgentRun.objects.filter(pk=run.pk).update(model_name=run.model_name, sources=writer.sources)
    for section in written:
        RunSection.objects.get_or_create(run=run, index=section.index, defaults={"heading": section.heading})
    sections = list(run.sections.order_by("index"))
    max_tokens = int(run.model_version.parameters.get("max_tokens", settings.AIOS_LLM_MAX_TOKENS))
    started = time.monotonic()
    brief = run.draft.brief
    for section in sections:
        if section.done:
            continue
        system, prompt = render_section_prompt(
            version=run.prompt_version, brief=brief, heading=section.heading,
            instruction=instructions.get(section.index, ""), sources=writer.sources, mode=resolved.mode,
        )
        section.prompt_hash = _digest(system, prompt)
        usage = Usage()
        text = ""
        last_beat = time.monotonic()
        # Shadows spend the brand's money too: the same reservation as the pipeline's calls, so caps
        # hold (BudgetExceeded fails this shadow run only). Settling adds the cost to the run's row.
        reservation = budgets.budget_reserve(
            brand=brief.brand, run_id=run.pk,
            amount=budgets.call_cost(run.model_version, tokens_in=budgets.estimate_tokens(f"{system}\n\n{prompt}"),
                                     tokens_out=max_tokens),
        )
        try:
            for delta in provider.stream(system=system, prompt=prompt, max_tokens=max_tokens, usage=usage):
                if run.ttft_ms is None:
                    run.ttft_ms = (time.monotonic() - started) * 1000
                text += delta
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    AgentRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
                    last_beat = time.monotonic()
        finally:
            budgets.budget_settle(reservation=reservation, run_id=run.pk, cost=budgets.call_cost(
                run.model_version, tokens_in=usage.prompt_tokens, tokens_out=usage.completion_tokens))
        section.text = text.strip()
        section.tokens_in, section.tokens_out, section.done = usage.prompt_tokens, usage.completion_tokens, True
        section.save(update_fields=["text", "tokens_in", "tokens_out", "done", "prompt_hash"])
    run.prompt_hash = _digest(*(s.prompt_hash for s in sections))
    run.tokens_in = sum(s.tokens_in for s in sections)
    run.tokens_out = sum(s.tokens_out for s in sections)
    # Every call's cost (failed tries included) was added to the run's row as it settled.
    run.cost, run.reserved_cost = AgentRun.objects.values_list("cost", "reserved_cost").get(pk=run.pk)
    run.output = {"write_run": writer.pk, "sections": len(sections)}


class ShadowRetry(Exception):
    def __init__(self, message: str, *, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


def shadow_execute(*, run_id: int) -> AgentRun | None:
    """Claim and write one shadow run. Raises ShadowRetry when the task should retry."""
    run = _claim(run_id)
    if run is None:
        return None
    started = time.monotonic()
    try:
        _write(run)
    except ProviderError as exc:
        if not exc.permanent and run.attempt_count < MAX_ATTEMPTS:
            countdown = backoff_delay(run.attempt_count - 1, exc.retry_after, base=2.0, cap=300.0)
            AgentRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
                status=Status.QUEUED, error=f"Attempt {run.attempt_count} failed: {exc}; retrying in {countdown:.0f}s"
            )
            raise ShadowRetry(str(exc), countdown=countdown) from exc
        return shadow_fail(run=run, reason=str(exc))
    except budgets.BudgetExceeded as exc:  # the brand's cap: said plainly, on the shadow only
        return shadow_fail(run=run, reason=str(exc))
    except Exception as exc:  # any error fails the shadow run only
        log.exception("shadow run %s failed", run.pk)
        return shadow_fail(run=run, reason=f"Internal error: {exc.__class__.__name__}: {exc}")
    return shadow_succeed(run=run, latency_ms=(time.monotonic() - started) * 1000)


@transaction.atomic
def shadow_succeed(*, run: AgentRun, latency_ms: float) -> AgentRun:
    # No draft lock: a shadow never changes the draft, so it takes only the audit chain's lock.
    run.status = Status.SUCCEEDED
    run.finished_at = timezone.now()
    run.latency_ms = latency_ms
    run.error = ""
    run.save()
    audit_log(action="agents.run.shadow.succeed", obj=run, run=run,
              data={"draft": run.draft_id, "model_version": run.model_version_id, "write_run": run.input.get("write_run"),
                    "tokens_in": run.tokens_in, "tokens_out": run.tokens_out, "cost": str(run.cost)})
    return run


@transaction.atomic
def shadow_fail(*, run: AgentRun, reason: str) -> AgentRun:
    run.status = Status.FAILED
    run.error = reason
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "model_name", "ttft_ms"])
    audit_log(action="agents.run.shadow.fail", obj=run, run=run,
              data={"draft": run.draft_id, "model_version": run.model_version_id, "error": reason})
    return run


# --- reading them back (the desk's comparison page) ------------------------------------------------

def shadow_text(run: AgentRun) -> str:
    """The shadow's sections in the same shape as a generated revision's content."""
    return "\n\n".join(f"## {s.heading}\n\n{s.text}" for s in run.sections.order_by("index"))


def shadow_baseline(run: AgentRun) -> tuple[Any, str, AgentRun | None]:
    """(the draft's generated revision or None, its text, the write run) to compare a shadow with.
    Before the check step has made the revision, the writer's sections stand in for it."""
    from editorial.models import Revision

    writer = AgentRun.objects.filter(pk=(run.input or {}).get("write_run")).select_related("model_version").first()
    if writer is None:
        return None, "", None
    revision = Revision.objects.filter(draft_id=run.draft_id, author_run=writer).order_by("number").first()
    if revision is not None:
        return revision, revision.content, writer
    return None, "\n\n".join(f"## {s.heading}\n\n{s.text}" for s in writer.sections.order_by("index")), writer


def shadow_runs_for(draft: Any) -> list[AgentRun]:
    return list(AgentRun.objects.filter(draft=draft, kind=Kind.SHADOW).select_related("model_version")
                .order_by("-created_at", "-id"))
