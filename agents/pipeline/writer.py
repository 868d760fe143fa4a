"""The one streamed-section loop: the write step, a section rewrite and a shadow run all write here.

`write_section` asks the model for one section through a call (the guarded call by default),
checkpoints the text into its RunSection as it arrives (so a reload or a resumed run sees it),
heartbeats the run's claim at each flush (fenced: a worker whose run was taken over stops), and,
when the caller gives it events, tells the draft's watchers in batches of
AIOS_STREAM_FLUSH_SECONDS rather than per token (a group_send costs a millisecond or two).

Nothing unusable leaves here. Every try is cleaned (a repeated heading dropped), trimmed to its last
complete sentence when the model stopped at `max_tokens`, and checked (agents/pipeline/acceptance.py).
A rejected try is written again with other sampling, up to AIOS_SECTION_TRIES times; then
`SectionUnusable` says which section failed and why, and the section row keeps what was written.
Every try, with its finish reason and its problems, is kept on the section (`RunSection.tries`).
"""
from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F

from agents.calls.guarded import CallResult, generate
from agents.models import AgentRun, RunSection
from agents.pipeline.acceptance import Rules, check_section, trim_to_sentence, words
from agents.pipeline.runs import run_heartbeat
from editorial.realtime import push_draft_event

Event = dict[str, Any]
# A base model continues the document: stop it at the next heading, at a fence, or at a blank gap.
STOP = ["\n#", "<<<", "\n\n\n", ">>>"]
# Sampling of the tries after the first (the first uses the model version's own parameters).
RETRY_TEMPERATURES = (0.5, 0.9, 0.3, 0.7)
KEPT_TRY_CHARS = 4000
# Each flush checkpoints the text; the run's heartbeat (one more UPDATE) goes with it at most every
# 2 s, or a tenth of AIOS_RUN_STALE_SECONDS (90 s by default) when that is shorter.
HEARTBEAT_EVERY_SECONDS = 2.0


@dataclass
class SectionEvents:
    """What the draft's watchers are told while a section is written; None for a silent writer."""

    reset: Callable[[], Event]
    delta: Callable[[int, str, int], Event]  # (offset, text, tokens streamed so far) → event


class SectionUnusable(Exception):
    """No try produced a usable section: the run fails (the draft needs a human) with this reason."""

    def __init__(self, section: RunSection, problems: list[str]) -> None:
        tries = len(section.tries)
        super().__init__(
            f"Section {section.index + 1} “{section.heading}” was not usable after {tries} "
            f"tr{'ies' if tries != 1 else 'y'}: {'; '.join(problems)}."
        )
        self.section = section
        self.problems = problems


# A line that is only a label: one capitalised word (with or without a full stop, or with a question
# mark: "Why?" alone on its line heads a paragraph, it asks nothing), or up to four capitalised words
# closed by a full stop (a label closed by a colon introduces what follows, and stays).
_PSEUDO_HEADING = re.compile(
    r"^[ \t]*(?:[A-Z][\w'’-]*[.?]?|[^\W\d_][\w'’-]*\.|(?:[A-Z][\w'’-]*[ \t]+){1,3}[A-Z][\w'’-]*\.)[ \t]*$")
_DOUBLED_MARKER = re.compile(r"^([ \t]*)(\d+[.)]|[-*+•])[ \t]+(?:\d+[.)]|[-*+•])[ \t]+")
# A model's own control tokens leaking into its text (Gemma's "<start_of_image>", "<end_of_turn>", "<eos>";
# "<|endoftext|>", "<|im_end|>" elsewhere): never words, so they go, with the spaces around them.
_CONTROL_TOKEN = re.compile(
    r"[ \t]*(?:<(?:start|end)_of_[a-z]+>|<(?:bos|eos|pad|unk|mask)>|<unused\d+>|<\|[a-z_]+\|>)[ \t]*")


def _as_label(line: str) -> str:
    return " ".join(line.strip().rstrip(".:").split()).casefold()


def clean_section_text(text: str, heading: str, title: str = "") -> str:
    """Model output as a section body: without the heading lines it may open with (its own heading
    repeated, or a title of its own: a base model often starts that way), and with any later `## `
    line turned into a sub-heading, since a new section would shift every later one (the acceptance
    check then refuses a heading inside the body). A line that is only the section's heading or the
    draft's title ("Oat milk now free" between two paragraphs), or the title's part before a " — " (a
    variant's "Winter hours — Students" written as "Winter hours"), is a label too, and goes."""
    text = "\n".join(_CONTROL_TOKEN.sub(" ", line).strip(" \t") if _CONTROL_TOKEN.search(line) else line
                     for line in text.split("\n"))
    lines = text.strip().split("\n")
    while lines and (re.match(r"^[ \t]{0,3}#{1,6}([ \t]|$)", lines[0]) or not lines[0].strip()):
        lines = lines[1:]
    # Gemma-sized models label paragraphs with the heading or a word of their own ("Introduction.",
    # "Processing.") and double list numbers ("1. 1. …"): noise a reader would delete, not content.
    echo = re.compile(rf"^[ \t]*{re.escape(heading.strip())}[.:][ \t]+", re.IGNORECASE) if heading.strip() else None
    names = {_as_label(name) for name in (heading, title, title.split(" — ")[0]) if name.strip()}
    kept = []
    for line in lines:
        if _PSEUDO_HEADING.match(line) or _as_label(line) in names:
            continue
        if echo is not None:
            line = echo.sub("", line)
        kept.append(_DOUBLED_MARKER.sub(r"\1\2 ", line))
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(kept))
    return re.sub(r"^## ", "### ", body, flags=re.MULTILINE).strip()


def sampling_for(*, run: AgentRun, section: RunSection, number: int) -> dict[str, Any]:
    """Sampling overrides for try `number` (1-based): none for the first (the version's own settings);
    from the second on, another temperature and a seed of its own, so a retry does not write the same
    thing again."""
    if number == 1:
        return {}
    seed = int(hashlib.sha256(f"{run.pk}:{section.index}:{number}".encode()).hexdigest()[:8], 16)
    return {"temperature": RETRY_TEMPERATURES[(number - 2) % len(RETRY_TEMPERATURES)], "seed": seed}


def stop_sequences(run: AgentRun) -> list[str]:
    """The stop sequences a section's call sends: the version's own, then the writer's (as the
    provider merges them)."""
    own = (run.model_version.parameters or {}).get("stop") if run.model_version else None
    own = [own] if isinstance(own, str) else list(own or [])
    return list(dict.fromkeys(own + STOP))


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
    rules: Rules,
    max_tokens: int,
    instruction: str = "",
    framing: str = "",
    tokens_used: int = 0,
    deadline: float | None = None,
    time_limit: int | None = None,
    events: SectionEvents | None = None,
    isolated: bool = False,
    tries: int | None = None,
    allowance: Callable[[int], int] | None = None,
) -> Written:
    """Write `section` (its checkpoint row) from (system, prompt) until a try is usable; returns the
    accepted text with the last call's result. `instruction` and `framing` (the template's own wording)
    are what the section must not echo. `isolated`: a shadow's call (see `generate`). `allowance`, given
    the tokens this section's earlier tries used, lowers max_tokens (or raises RunLimitExceeded) so
    that tries never take a run past its output limit. The row is saved done with the text, the tokens of
    every try, the finish reason and whether it was trimmed. Raises SectionUnusable."""
    started = time.monotonic()
    # "stored": the row may hold text (a resumed run, a rejected try, a flushed delta) that a reset must clear.
    state: dict[str, Any] = {"text": "", "pending": "", "streamed": 0, "last": started, "first": None,
                             "stored": bool(section.text)}
    tries = tries or settings.AIOS_SECTION_TRIES

    beat_every = min(HEARTBEAT_EVERY_SECONDS, settings.AIOS_RUN_STALE_SECONDS / 10)

    def publish(event: Event | None) -> None:
        if event is not None:
            push_draft_event(run.draft_id, event)

    def reset() -> None:
        # Each try of the call (and a resumed run) starts the section afresh, on the page too.
        state.update(text="", pending="", streamed=0)
        if state["stored"]:
            RunSection.objects.filter(pk=section.pk).update(text="")
            state["stored"] = False
        run_heartbeat(run, unless_within=beat_every)
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
        state["stored"] = True
        run_heartbeat(run, unless_within=beat_every)
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

    history = list(section.tries or [])
    tokens_in = tokens_out = 0
    problems: list[str] = []
    text = ""
    for _ in range(tries):
        number = len(history) + 1
        limit = allowance(tokens_out) if allowance is not None else max_tokens
        result = generate(
            run=run, system=system, prompt=prompt, max_tokens=min(max_tokens, limit), tokens_used=tokens_used,
            deadline=deadline, time_limit=time_limit, on_reset=reset, on_delta=on_delta,
            stop=STOP, overrides=sampling_for(run=run, section=section, number=number), isolated=isolated,
        )
        flush()
        tokens_in, tokens_out = tokens_in + result.tokens_in, tokens_out + result.tokens_out
        tokens_used += result.tokens_in + result.tokens_out
        raw = state["text"] or result.text
        text = clean_section_text(raw, section.heading, run.draft.title)
        trimmed = False
        if result.finish_reason == "length":
            kept = trim_to_sentence(text)
            trimmed, text = kept != text, kept
        problems = check_section(text, rules, framing=framing, instruction=instruction)
        history.append({
            "try": number, "finish_reason": result.finish_reason or "", "trimmed": trimmed,
            "words": len(words(text)), "tokens_out": result.tokens_out, "cache_hit": result.cache_hit,
            "problems": problems, "text": text[:KEPT_TRY_CHARS],
        })
        if not problems:
            section.text, section.done = text, True
            section.finish_reason, section.trimmed = result.finish_reason or "", trimmed
            section.tries, section.problems = history, []
            section.tokens_in, section.tokens_out = section.tokens_in + tokens_in, section.tokens_out + tokens_out
            section.cache_hit = result.cache_hit
            section.save(update_fields=["text", "done", "finish_reason", "trimmed", "tries", "problems",
                                        "tokens_in", "tokens_out", "cache_hit", "prompt_hash"])
            if result.cache_hit:
                AgentRun.objects.filter(pk=run.pk).update(cache_hits=F("cache_hits") + 1)
            return Written(text=text, result=result, ttft_s=state["first"])
        # Checkpoint the rejected try (a limit reached before the next one still leaves its record),
        # and keep what was written, with the reasons, but never as a finished section.
        RunSection.objects.filter(pk=section.pk).update(
            text=text, tries=history, problems=problems, tokens_in=section.tokens_in + tokens_in,
            tokens_out=section.tokens_out + tokens_out, prompt_hash=section.prompt_hash)
        state["stored"] = bool(text)
        if events is not None:
            publish({**events.reset(), "rejected": problems, "try": number})
    section.refresh_from_db()
    raise SectionUnusable(section, problems)


# What `writer_provenance` reads of the run beyond its own row (join them, and prefetch "sections").
PROVENANCE_RELATED = ("model_version", "prompt_version__template")


def writer_provenance(run: AgentRun, **extra: Any) -> dict[str, Any]:
    """What a revision written by `run` records of how it was made (the desk and the signed manifest
    read it): model, template version, prompt hash, sources with scores, tokens, cost, latency, and
    each section's tries with the reasons any were rejected."""
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
        "sections": [
            {"index": s.index, "heading": s.heading, "finish_reason": s.finish_reason, "trimmed": s.trimmed,
             "tries": [{k: t.get(k) for k in ("try", "finish_reason", "trimmed", "words", "problems")}
                       for t in s.tries]}
            for s in run.sections.all()  # in index order (RunSection.Meta), prefetched or not
        ],
        **extra,
    }
