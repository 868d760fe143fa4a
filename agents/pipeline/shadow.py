"""Shadow runs: each model version in SHADOW status writes the same sections with the same prompts
as the draft's writer, after it. The text is stored with its provenance (RunSection rows, tokens,
cost, latency, model, prompt hash) to be compared in the desk; it is never the draft.

Isolation is the point: a shadow run never touches the draft row, its revisions or its status,
pushes nothing to the draft's live channel, and its failure (or the failure to start it) is
recorded on the shadow run only (see its row in agents/pipeline/kinds.py).
"""
from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from agents.calls.providers import ProviderError, resolve
from agents.models import AgentRun, ModelVersion, RunSection
from agents.pipeline.acceptance import max_tokens_for, rules_for
from agents.pipeline.prompts import digest, prompt_framing, render_section_prompt
from agents.pipeline.runs import enqueue_run
from agents.pipeline.writer import write_section
from editorial.models import Revision
from editorial.sections import join_sections

log = logging.getLogger(__name__)

Kind = AgentRun.Kind
Status = AgentRun.Status


def shadow_key(*, write_run: AgentRun, version: ModelVersion) -> str:
    return f"draft:{write_run.draft_id}:shadow:write:{write_run.pk}:version:{version.pk}"


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
        enqueue_run(run_id)
    except Exception:
        log.exception("could not enqueue shadow run %s", run_id)


def shadow_write(run: AgentRun) -> None:
    """The SHADOW step: the writer's sections, prompts and sources, with this run's model version,
    through the one writer with no live events."""
    if run.model_version is None or run.prompt_version is None:
        raise ProviderError("The shadow run has no model or template version.", permanent=True)
    writer = AgentRun.objects.get(pk=run.input["write_run"])
    written = list(writer.sections.order_by("index"))
    plan_run = (AgentRun.objects.filter(draft_id=run.draft_id, kind=Kind.PLAN, status=Status.SUCCEEDED)
                .order_by("-finished_at").first())
    plan = plan_run.output.get("sections", []) if plan_run else []
    instructions = {i: s.get("instruction", "") for i, s in enumerate(plan)}
    resolved = resolve(run.model_version)
    run.model_name, run.sources = resolved.model, writer.sources
    AgentRun.objects.filter(pk=run.pk).update(model_name=run.model_name, sources=writer.sources)
    for section in written:
        RunSection.objects.get_or_create(run=run, index=section.index, defaults={"heading": section.heading})
    sections = list(run.sections.order_by("index"))
    max_tokens = int(run.model_version.parameters.get("max_tokens", settings.AIOS_LLM_MAX_TOKENS))
    brief = run.draft.brief
    for section in sections:
        if section.done:
            continue
        system, prompt = render_section_prompt(
            version=run.prompt_version, brief=brief, heading=section.heading,
            instruction=instructions.get(section.index, ""), sources=writer.sources, mode=resolved.mode,
        )
        section.prompt_hash = digest(system, prompt)
        rules = rules_for(plan[section.index] if section.index < len(plan) else {"heading": section.heading},
                          version=run.prompt_version, language=brief.language)
        done = write_section(run=run, section=section, system=system, prompt=prompt, rules=rules,
                             max_tokens=max_tokens_for(rules, cap=max_tokens),
                             instruction=instructions.get(section.index, ""), isolated=True,
                             framing=prompt_framing(run.prompt_version, mode=resolved.mode))
        if run.ttft_ms is None and done.ttft_s is not None:
            run.ttft_ms = done.ttft_s * 1000
    run.prompt_hash = digest(*(s.prompt_hash for s in sections))
    run.tokens_in = sum(s.tokens_in for s in sections)
    run.tokens_out = sum(s.tokens_out for s in sections)
    # Every call's cost (failed tries included) was added to the run's row as it settled.
    run.cost, run.reserved_cost = AgentRun.objects.values_list("cost", "reserved_cost").get(pk=run.pk)
    run.output = {"write_run": writer.pk, "sections": len(sections)}


def shadow_audit(run: AgentRun) -> dict[str, Any]:
    """What the audit row of a shadow run's success or failure adds about it."""
    data = {"model_version": run.model_version_id}
    if run.status == Status.SUCCEEDED:
        data.update(write_run=run.input.get("write_run"), tokens_in=run.tokens_in, tokens_out=run.tokens_out,
                    cost=str(run.cost))
    return data


# --- reading them back (the desk's comparison page) ------------------------------------------------

def shadow_text(run: AgentRun) -> str:
    """The shadow's sections in the same shape as a generated revision's content."""
    return join_sections((s.heading, s.text) for s in run.sections.order_by("index"))


def shadow_baseline(run: AgentRun) -> tuple[Any, str, AgentRun | None]:
    """(the draft's generated revision or None, its text, the write run) to compare a shadow with.
    Before the check step has made the revision, the writer's sections stand in for it."""
    writer = AgentRun.objects.filter(pk=(run.input or {}).get("write_run")).select_related("model_version").first()
    if writer is None:
        return None, "", None
    revision = Revision.objects.filter(draft_id=run.draft_id, author_run=writer).order_by("number").first()
    if revision is not None:
        return revision, revision.content, writer
    return None, join_sections((s.heading, s.text) for s in writer.sections.order_by("index")), writer


def shadow_runs_for(draft: Any) -> list[AgentRun]:
    return list(AgentRun.objects.filter(draft=draft, kind=Kind.SHADOW).select_related("model_version")
                .order_by("-created_at", "-id"))
