"""The production line of a brief: plan → retrieve → write → check, then the draft is in review.

Each step is an AgentRun of its kind; `agents/pipeline/kinds.py` maps a kind to its step here and to
what follows its success or failure. The next step's run is created in the transaction that
finishes the previous one, under an idempotency key derived from it, and enqueued on commit.
"""
from __future__ import annotations

import hashlib
import time
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from agents.calls.breaker import breaker_probe_now
from agents.calls.guarded import output_allowance
from agents.calls.providers import ProviderError, resolve
from agents.grounding import ground
from agents.knowledge import retrieve
from agents.models import AgentRun, ModelVersion, RunSection
from agents.pipeline.outline import outline_pause
from agents.pipeline.acceptance import RULE_FIELDS, max_tokens_for, rules_for
from agents.pipeline.prompts import digest, prompt_framing, render_section_prompt
from agents.pipeline.runs import Kind, Status, previous_output, previous_value, progress_event, run_create
from agents.pipeline.writer import PROVENANCE_RELATED, SectionEvents, write_section, writer_provenance
from agents.pipeline.shadow import shadow_runs_start
from editorial.models import Draft
from editorial.notifications import notify_generation_failed
from editorial.realtime import push_draft_event
from editorial.revisions import revision_create
from editorial.sections import join_sections
from editorial.transitions import draft_transition
from governance.models import Finding
from governance.policies import FindingData, evaluate, findings_record, rule_set_version_for
from governance.publishing.policy import policy_publish_enqueue
from governance.signoffs import policy_approval_refusal, signoffs_by_policy

NEXT_STEP: dict[str, str | None] = {Kind.PLAN: Kind.RETRIEVE, Kind.RETRIEVE: Kind.WRITE, Kind.WRITE: Kind.CHECK,
                                    Kind.CHECK: None}


# --- starting -----------------------------------------------------------------------------------

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


@transaction.atomic
def pipeline_start(*, draft: Any) -> AgentRun:
    return run_create(draft=draft, kind=Kind.PLAN, key=f"draft:{draft.pk}:plan:start")


@transaction.atomic
def pipeline_retry(*, draft: Any, user: Any) -> AgentRun:
    """Start again from the failed step; a failed write keeps the sections it had finished."""
    draft = Draft.objects.select_for_update().get(pk=draft.pk)
    if draft.status not in (Draft.Status.FAILED, Draft.Status.NEEDS_HUMAN):
        raise ValueError("Only a draft whose generation failed can be retried.")
    failed = draft.runs.filter(status=Status.FAILED).latest("finished_at")
    if draft.status == Draft.Status.NEEDS_HUMAN and draft.model_version is not None:
        breaker_probe_now(draft.model_version, user=user)  # the person says the model is back: try it
    run = run_create(draft=draft, kind=failed.kind, key=f"draft:{draft.pk}:{failed.kind}:retry-of:{failed.pk}")
    if failed.kind == Kind.WRITE:
        RunSection.objects.bulk_create(
            [
                RunSection(run=run, index=s.index, heading=s.heading, text=s.text, done=True,
                           tokens_in=s.tokens_in, tokens_out=s.tokens_out, prompt_hash=s.prompt_hash,
                           cache_hit=s.cache_hit, finish_reason=s.finish_reason, trimmed=s.trimmed, tries=s.tries)
                for s in failed.sections.filter(done=True)
            ],
            ignore_conflicts=True,
        )
    draft_transition(draft=draft, to=Draft.Status.GENERATING, reason="", action="agents.pipeline.retry", user=user,
                     data={"failed_run": failed.pk, "run": run.pk})
    return run


# --- the steps ----------------------------------------------------------------------------------

def plan(run: AgentRun) -> None:
    version = run.draft.prompt_version
    if version is None or not version.sections:
        raise ProviderError("The template has no active version with sections.", permanent=True)
    run.output = {"sections": [
        {"heading": s["heading"], "instruction": s.get("instruction", ""),
         **{k: s[k] for k in RULE_FIELDS if k in s}}
        for s in version.sections
    ]}


def retrieve_sources(run: AgentRun) -> None:
    brief = run.draft.brief
    query = f"{brief.title}. {brief.goal} For {brief.audience}."
    document_ids = list(brief.sources.values_list("pk", flat=True))
    run.sources = retrieve(brand=brief.brand, query=query, k=settings.AIOS_RETRIEVE_K, document_ids=document_ids)


def section_rows(run: AgentRun, plan_sections: list[dict[str, Any]]) -> list[RunSection]:
    """The run's checkpoint rows, one per planned section, in order: made on the first attempt (the
    insert returns them), found on a resumed one."""
    have = set(run.sections.values_list("index", flat=True))
    missing = [RunSection(run=run, index=index, heading=section["heading"])
               for index, section in enumerate(plan_sections) if index not in have]
    if missing and not have:
        try:
            with transaction.atomic():
                return RunSection.objects.bulk_create(missing)
        except IntegrityError:
            pass  # a worker that lost its claim made them meanwhile: read them below
    RunSection.objects.bulk_create(missing, ignore_conflicts=True)
    return list(run.sections.all())


def write(run: AgentRun) -> None:
    """Every planned section, in order, through the one writer; finished sections (a checkpoint of an
    earlier attempt) are never written twice."""
    draft = run.draft
    if run.model_version is None:
        raise ProviderError("No active model version is configured.", permanent=True)
    plan_sections = previous_value(draft, Kind.PLAN, "output")["sections"]
    sources = previous_value(draft, Kind.RETRIEVE, "sources")
    resolved = resolve(run.model_version)
    run.model_name, run.sources = resolved.model, sources
    AgentRun.objects.filter(pk=run.pk).update(model_name=run.model_name, sources=sources)
    # One checkpoint row per planned section, made once: a resumed attempt finds its rows.
    sections = section_rows(run, plan_sections)
    total = len(sections)
    max_tokens = int(run.model_version.parameters.get("max_tokens", settings.AIOS_LLM_MAX_TOKENS))
    started = time.monotonic()
    time_limit = run.model_version.max_run_seconds
    deadline = started + time_limit if time_limit else None

    def done_count() -> int:
        return sum(1 for s in sections if s.done)

    for section in sections:
        if section.done:
            continue
        tokens_out = sum(s.tokens_out for s in sections if s.done)
        tokens_in = sum(s.tokens_in for s in sections if s.done)
        system, prompt = render_section_prompt(
            version=run.prompt_version, brief=draft.brief, heading=section.heading,
            instruction=plan_sections[section.index].get("instruction", ""), sources=sources, mode=resolved.mode,
        )
        section.prompt_hash = digest(system, prompt)
        events = SectionEvents(
            reset=lambda s=section: progress_event(run, section=s.index, heading=s.heading, reset=True),
            delta=lambda offset, text, streamed, s=section, before=tokens_out: progress_event(
                run, section=s.index, offset=offset, delta=text, tokens=before + streamed,
                sections_done=done_count(), sections_total=total),
        )
        planned = plan_sections[section.index]
        rules = rules_for(planned, version=run.prompt_version, language=draft.brief.language)
        written = write_section(
            run=run, section=section, system=system, prompt=prompt, rules=rules,
            instruction=planned.get("instruction", ""), framing=prompt_framing(run.prompt_version, mode=resolved.mode),
            max_tokens=max_tokens_for(rules, cap=max_tokens),
            allowance=lambda used, before=tokens_out: output_allowance(
                run, used_out=before + used, max_tokens=max_tokens, sections_left=total - done_count()),
            tokens_used=tokens_in + tokens_out, deadline=deadline, time_limit=time_limit, events=events,
        )
        if run.ttft_ms is None and written.ttft_s is not None:
            run.ttft_ms = written.ttft_s * 1000
        progress_event_done = progress_event(
            run, section=section.index, done=True, text=section.text,
            tokens=tokens_out + section.tokens_out, sections_done=done_count(), sections_total=total,
        )
        push_draft_event(draft.pk, progress_event_done)

    run.prompt_hash = digest(*(s.prompt_hash for s in sections))
    run.tokens_in = sum(s.tokens_in for s in sections)
    run.tokens_out = sum(s.tokens_out for s in sections)
    # Every call of this run (failed tries included) was costed as it settled (agents/budgets.py).
    run.cost, run.reserved_cost, run.cache_hits = AgentRun.objects.values_list(
        "cost", "reserved_cost", "cache_hits").get(pk=run.pk)
    run.model_name = resolve(run.model_version).model


def check(run: AgentRun) -> None:
    """Policies and sentence grounding over the written text; the result is the draft's revision."""
    draft = run.draft
    writer = previous_output(draft, Kind.WRITE, related=(*PROVENANCE_RELATED, "fallback_from"), prefetch=("sections",))
    sections = list(writer.sections.all())
    content = join_sections((s.heading, s.text) for s in sections)
    # Sentence → best supporting chunk (agents/grounding.py); the brand's own name is not a claim.
    grounding = ground(content, writer.sources, known_names=[draft.brand.name])
    version = rule_set_version_for(draft.brand)
    findings = evaluate(content, channel=draft.brief.channel, version=version, brand=draft.brand,
                        sources=[s["text"] for s in writer.sources if s.get("text") and not s.get("flagged")]) + grounding.findings + [
        FindingData(
            category="prompt_injection",
            severity=Finding.Severity.WARNING,
            message=f"The source “{s['title']}” used for this draft contains instruction-like text; "
            "check that the draft did not follow it.",
        )
        for s in writer.sources
        if s.get("flagged")
    ]
    runs = list(draft.runs.filter(status=Status.SUCCEEDED).exclude(kind=Kind.SHADOW).order_by("created_at"))
    provenance = {
        **writer_provenance(writer),
        "cache_hits": writer.cache_hits,
        "cached_sections": [s.index for s in sections if s.cache_hit],
        "fallback_from": (
            {"id": writer.fallback_from_id, "name": writer.fallback_from.name} if writer.fallback_from_id else None
        ),
        "runs": [{"id": r.pk, "kind": r.kind} for r in runs] + [{"id": run.pk, "kind": run.kind}],
        "rule_set_version": version.pk if version else None,
        "sentences": grounding.sentences,
    }
    revision = revision_create(
        draft=draft, content=content, author_run=writer, provenance=provenance, note="Generated by the pipeline"
    )
    findings_record(revision=revision, run=run, version=version, findings=findings)
    run.output = {"revision": revision.pk, "findings": len(findings)}


# --- what follows ------------------------------------------------------------------------------

def next_step(run: AgentRun, draft: Draft) -> None:
    """After plan, retrieve or write: the next step's run (created once, whatever the redeliveries)."""
    kind = NEXT_STEP[run.kind]
    run_create(draft=draft, kind=kind, key=f"draft:{run.draft_id}:{kind}:after:{run.pk}")


def after_plan(run: AgentRun, draft: Draft) -> None:
    if not outline_pause(run=run, draft=draft):  # a checkpointed template waits for a person
        next_step(run, draft)


def after_write(run: AgentRun, draft: Draft) -> None:
    shadow_runs_start(write_run=run)  # never raises: a shadow's trouble is never the draft's
    next_step(run, draft)


def ready_for_review(run: AgentRun, draft: Draft) -> None:
    revision_id = run.output["revision"]
    draft_transition(draft=draft, to=Draft.Status.IN_REVIEW, reason="", action="editorial.draft.ready_for_review",
                     run=run, fields={"current_revision_id": revision_id}, data={"revision": revision_id})
    approve_by_policy(draft)


def approve_by_policy(draft: Draft) -> None:
    """A low-risk draft whose workflow approves by policy is signed without a person (governance/
    signoffs.py decides whether it qualifies), then published or scheduled by its own task once this
    transaction commits: publishing never fails the check run. Clean quality: every section was
    accepted at its first try, with no problem and nothing trimmed."""
    draft = Draft.objects.select_related("brief", "brand", "workflow", "current_revision").get(pk=draft.pk)
    if policy_approval_refusal(draft=draft, quality_clean=True) is not None:
        return  # most drafts: their workflow does not approve by policy
    sections = previous_output(draft, Kind.WRITE).sections.all()
    if not all(not s.problems and not s.trimmed and len(s.tries or []) <= 1 for s in sections):
        return
    signoffs_by_policy(draft=draft, quality_clean=True)
    draft.refresh_from_db(fields=["status"])
    if draft.status == Draft.Status.APPROVED:
        policy_publish_enqueue(draft=draft)


def generation_failed(run: AgentRun, draft: Draft, reason: str, needs_human: bool) -> None:
    """A step of the pipeline failed for good: the draft failed too, or, when no model can be
    called at all, needs a human."""
    if draft.status != Draft.Status.GENERATING:
        return
    draft_transition(
        draft=draft, to=Draft.Status.NEEDS_HUMAN if needs_human else Draft.Status.FAILED,
        reason=f"The {run.get_kind_display().lower()} step failed: {reason}",
        action="editorial.draft.generation_failed", run=run, data={"run": run.pk},
    )
    transaction.on_commit(lambda: notify_generation_failed(draft_id=draft.pk), robust=True)

