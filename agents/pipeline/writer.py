"""The one streamed-section loop: the write step, a section rewrite and a shadow run all write here.

`write_section` asks the model for one section through a call (the guarded call by default),
checkpoints the text into its RunSection as it arrives (so a reload or a resumed run sees it),
heartbeats the run's claim at each flush (fenced: a worker whose run was taken over stops), and,
when the caller gives it events, tells the draft's watchers in batches of
AIOS_STREAM_FLUSH_SECONDS rather than per token (a group_send costs a millisecond or two).
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F

from agents.calls import CallResult, generate
from agents.models import AgentRun, RunSection
from agents.pipeline.runs import run_heartbeat
from editorial.realtime import push_draft_event

Event = dict[str, Any]


@dataclass
class SectionEvents:
    """What the draft's watchers are told while a section is written; None for a silent writer."""

    reset: Callable[[], Event]
    delta: Callable[[int, str, int], Event]  # (offset, text, tokens streamed so far) → event


def clean_section_text(text: str, heading: str) -> str:
    """Model output as a section body: without a repeated heading, and with any `## ` line turned into
    a sub-heading, since a new section would shift every later one."""
    lines = text.strip().split("\n")
    if lines and re.fullmatch(r"#{1,6}\s*" + re.escape(heading.strip()) + r"\s*", lines[0].strip(), re.IGNORECASE):
        lines = lines[1:]
    return re.sub(r"^## ", "### ", "\n".join(lines), flags=re.MULTILINE).strip()


@dataclass
class Written:
    text: str
    result: CallResult
    ttft_s: float | None


def write_section(
    *,
    run: AgentRun,
    section: RunSection,
    system: str,
    prompt: str,
    max_tokens: int,
    tokens_used: int = 0,
    deadline: float | None = None,
    time_limit: int | None = None,
    events: SectionEvents | None = None,
    call: Callable[..., CallResult] = generate,
) -> Written:
    """Write `section` (its checkpoint row) from (system, prompt); returns the cleaned text with the
    call's result. The row is saved done, with the text, tokens and cache flag."""
    started = time.monotonic()
    state: dict[str, Any] = {"text": "", "pending": "", "streamed": 0, "last": started, "first": None}

    def publish(event: Event | None) -> None:
        if event is not None:
            push_draft_event(run.draft_id, event)

    def reset() -> None:
        # Each try of the call (and a resumed run) starts the section afresh, on the page too.
        state.update(text="", pending="", streamed=0)
        RunSection.objects.filter(pk=section.pk).update(text="")
        run_heartbeat(run)
        if events is not None:
            publish(events.reset())

    def flush() -> None:
        if not state["pending"]:
            return
        offset, delta = len(state["text"]), state["pending"]
        state["text"] += delta
        state["pending"] = ""
        # Checkpoint first, then tell browsers: a page loaded in between never misses text.
        RunSection.objects.filter(pk=section.pk).update(text=state["text"])
        run_heartbeat(run)
        if events is not None:
            publish(events.delta(offset, delta, state["streamed"]))
        state["last"] = time.monotonic()

    def on_delta(delta: str) -> None:
        if state["first"] is None:
            state["first"] = time.monotonic() - started
        state["pending"] += delta
        state["streamed"] += 1
        if time.monotonic() - state["last"] >= settings.AIOS_STREAM_FLUSH_SECONDS:
            flush()

    result = call(
        run=run, system=system, prompt=prompt, max_tokens=max_tokens, tokens_used=tokens_used,
        deadline=deadline, time_limit=time_limit, on_reset=reset, on_delta=on_delta,
    )
    flush()
    text = clean_section_text(state["text"], section.heading)
    section.text = text
    section.tokens_in, section.tokens_out, section.done = result.tokens_in, result.tokens_out, True
    section.cache_hit = result.cache_hit
    section.save(update_fields=["text", "tokens_in", "tokens_out", "done", "cache_hit", "prompt_hash"])
    if result.cache_hit:
        AgentRun.objects.filter(pk=run.pk).update(cache_hits=F("cache_hits") + 1)
    return Written(text=text, result=result, ttft_s=state["first"])


def writer_provenance(run: AgentRun, **extra: Any) -> dict[str, Any]:
    """What a revision written by `run` records of how it was made (the desk and the signed manifest
    read it): model, template version, prompt hash, sources with scores, tokens, cost, latency."""
    mv = run.model_version
    return {
        "model_version": {"id": mv.pk, "name": mv.name} if mv else None,
        "model": run.model_name,
        "prompt_template_version": (
            {"id": run.prompt_version_id, "label": str(run.prompt_version)} if run.prompt_version else None
        ),
        "prompt_hash": run.prompt_hash,
        "sources": [{k: s[k] for k in ("chunk_id", "document_id", "title", "score")} for s in run.sources],
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost": str(run.cost),
        "ttft_ms": run.ttft_ms,
        **extra,
    }
