"""Who wrote each word: attribution of a revision's text to the agent or to a person, from its history.

Walking a revision's line of parents from the first one, every revision is compared with its parent
by the one word diff (`editorial.diffs.word_diff`). Unchanged text keeps the label it had; text a
revision adds is labelled by that revision's author:

* `agent`: written by an agent run (a generation, a section rewrite, an accepted proposal) and kept
  as it is by the people who edited and approved the draft since;
* `edited`: a person's text that replaces agent text next to it (agent text rewritten by a person);
* `human`: a person's text that replaces nothing written by the agent (written by a person).

A restore brings back the labels of the revision it restored, not "written by the person who clicked".
The result is counted in words (`\\w+`, each word labelled by its first character) for the whole text
and per `## ` section; `ai_share` is the agent's part of the words. It is stored (`Attribution`, one
row per revision, revisions never change) when a draft is approved or published, and computed on
demand for the draft page.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction

from editorial.diffs import word_diff
from editorial.models import Attribution, Revision
from editorial.sections import HEADING, split_sections
from governance.audit import audit_log

AGENT, EDITED, HUMAN = "agent", "edited", "human"
LABELS = (AGENT, EDITED, HUMAN)
FORMAT = "aios-ai-disclosure/1"
_WORD = re.compile(r"\w+")

Runs = list[tuple[int, str]]  # (length, label), covering the text in order
# Runs of every revision worked out are cached: the next revision then costs one word diff.
CACHE_VERSION = 1  # bump when the labelling changes
CACHE_SECONDS = 30 * 24 * 3600
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SectionAttribution:
    index: int | None  # None: the text before the first heading
    heading: str
    words: dict[str, int]

    @property
    def ai_share(self) -> Decimal:
        return share(self.words[AGENT], sum(self.words.values()))


@dataclass(frozen=True)
class AttributionResult:
    revision_id: int
    words: dict[str, int]
    sections: list[SectionAttribution]
    spans: list[tuple[int, int, str]]  # (start, end, label): the whole text, in order

    @property
    def total(self) -> int:
        return sum(self.words.values())

    @property
    def ai_share(self) -> Decimal:
        return share(self.words[AGENT], self.total)


def share(part: int, total: int) -> Decimal:
    """A fraction with four decimals (0 for no words at all)."""
    if not total:
        return Decimal("0.0000")
    return (Decimal(part) / Decimal(total)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


# --- labelling ---------------------------------------------------------------------------------------

def _take(runs: Runs, cursor: list[int], n: int) -> Runs:
    """The next n characters' runs; `cursor` is [run index, offset in it], moved along."""
    out: Runs = []
    while n > 0 and cursor[0] < len(runs):
        length, label = runs[cursor[0]]
        step = min(n, length - cursor[1])
        out.append((step, label))
        n -= step
        cursor[1] += step
        if cursor[1] == length:
            cursor[0], cursor[1] = cursor[0] + 1, 0
    return out


def _merge(runs: Runs) -> Runs:
    out: Runs = []
    for length, label in runs:
        if not length:
            continue
        if out and out[-1][1] == label:
            out[-1] = (out[-1][0] + length, label)
        else:
            out.append((length, label))
    return out


def _word_labels(text: str, runs: Runs) -> set[str]:
    """Labels of the runs of `text` that hold a word (a removed line break replaces nothing)."""
    out, pos = set(), 0
    for length, label in runs:
        if _WORD.search(text, pos, pos + length):
            out.add(label)
        pos += length
    return out


def apply_revision(old_runs: Runs, old: str, new: str, *, by_agent: bool) -> Runs:
    """The runs of `new`, from those of `old` and the word diff between them."""
    ops = word_diff(old, new).ops
    cursor = [0, 0]
    taken: list[Runs] = [_take(old_runs, cursor, len(op.text)) if op.op != "insert" else [] for op in ops]
    out: Runs = []
    for k, op in enumerate(ops):
        if op.op == "equal":
            out += taken[k]
        elif op.op == "insert":
            if by_agent:
                label = AGENT
            else:
                replaced = {label for j in (k - 1, k + 1) if 0 <= j < len(ops) and ops[j].op == "delete"
                            for label in _word_labels(ops[j].text, taken[j])}
                label = EDITED if replaced & {AGENT, EDITED} else HUMAN
            out.append((len(op.text), label))
    return _merge(out)


def _lineage(revision: Revision) -> tuple[list[Revision], dict[int, Revision]]:
    """The revision and its parents, oldest first (one query for the draft's revisions)."""
    by_pk = {r.pk: r for r in Revision.objects.filter(draft_id=revision.draft_id)
             .only("pk", "draft_id", "parent_id", "content", "content_hash", "author_run_id", "author_user_id",
                   "provenance")}
    line, seen, row = [], set(), by_pk.get(revision.pk, revision)
    while row is not None and row.pk not in seen:
        seen.add(row.pk)
        line.append(row)
        row = by_pk.get(row.parent_id) if row.parent_id else None
    return list(reversed(line)), by_pk


def _cache_key(revision: Revision) -> str:
    # The hash guards against a database re-created under the same cache (ids used again).
    return f"attribution:{CACHE_VERSION}:{revision.draft_id}:{revision.pk}:{revision.content_hash[:16]}"


def _known_runs(line: list[Revision]) -> dict[int, Runs]:
    """Runs already worked out for revisions of the line: stored attributions, then the cache (a
    revision never changes, so neither do its runs; a cache that is down only costs time)."""
    stored = Attribution.objects.filter(revision_id__in=[r.pk for r in line]).only("revision_id", "spans")
    known = {row.revision_id: _runs_from_spans(row.spans) for row in stored}
    wanted = {_cache_key(r): r.pk for r in line if r.pk not in known}
    try:
        cached = cache.get_many(list(wanted)) if wanted else {}
    except Exception:  # noqa: BLE001 - the cache is an optimisation
        log.warning("attribution cache unavailable", exc_info=True)
        cached = {}
    for key, value in cached.items():
        known[wanted[key]] = [tuple(run) for run in value]
    return known


def _runs_from_spans(spans: list[list[Any]]) -> Runs:
    return [(end - start, label) for start, end, label in spans]


def revision_runs(revision: Revision) -> Runs:
    """Label runs over `revision.content`, from the history that led to it. Starts from the newest
    revision of the line whose runs are known (stored or cached): one word diff per newer revision."""
    line, by_pk = _lineage(revision)
    known = _known_runs(line)
    start = max((i for i, row in enumerate(line) if row.pk in known), default=-1)
    labelled: dict[int, Runs] = {row.pk: known[row.pk] for row in line[: start + 1] if row.pk in known}
    runs: Runs = known[line[start].pk] if start >= 0 else []
    text = line[start].content if start >= 0 else ""
    fresh: dict[str, Runs] = {}
    for row in line[start + 1:]:
        restored = (row.provenance or {}).get("restored_from") if row.author_user_id else None
        source = by_pk.get(restored.get("revision")) if isinstance(restored, dict) else None
        if source is not None and source.content == row.content and source.pk != row.pk:
            runs = labelled[source.pk] if source.pk in labelled else revision_runs(source)
        else:
            runs = apply_revision(runs, text, row.content, by_agent=row.author_run_id is not None)
        labelled[row.pk] = runs
        fresh[_cache_key(row)] = runs
        text = row.content
    if fresh:
        try:
            cache.set_many(fresh, timeout=CACHE_SECONDS)
        except Exception:  # noqa: BLE001 - the cache is an optimisation
            log.warning("attribution cache unavailable", exc_info=True)
    return runs


def _spans(runs: Runs) -> list[tuple[int, int, str]]:
    spans, pos = [], 0
    for length, label in runs:
        spans.append((pos, pos + length, label))
        pos += length
    return spans


def _section_ranges(content: str) -> list[tuple[int | None, str, int, int]]:
    """(index, heading, start, end) of the text before the first heading and of each `## ` section,
    heading line included."""
    sections = split_sections(content)
    first = HEADING.search(content)
    ranges = [(None, "", 0, first.start() if first else len(content))]
    for s in sections:
        begin = ranges[-1][3]
        ranges.append((s.index, s.heading, begin, s.end))
    return [r for r in ranges if r[0] is not None or content[r[2]:r[3]].strip()]


def attribute(revision: Revision) -> AttributionResult:
    """Compute the attribution of a revision's text (nothing stored)."""
    return summarise(revision_id=revision.pk, content=revision.content, runs=revision_runs(revision))


def summarise(*, revision_id: int, content: str, runs: Runs) -> AttributionResult:
    """Word counts, whole and per section, of a text labelled by `runs`."""
    spans = _spans(runs)
    labels = [""] * len(content)
    for start, end, label in spans:
        labels[start:end] = [label] * (end - start)
    sections = []
    for index, heading, start, end in _section_ranges(content):
        counts = dict.fromkeys(LABELS, 0)
        for match in _WORD.finditer(content, start, end):
            counts[labels[match.start()] or HUMAN] += 1
        sections.append(SectionAttribution(index=index, heading=heading, words=counts))
    words = {label: sum(s.words[label] for s in sections) for label in LABELS}
    return AttributionResult(revision_id=revision_id, words=words, sections=sections, spans=spans)


# --- stored ------------------------------------------------------------------------------------------

def _from_row(row: Attribution) -> AttributionResult:
    return AttributionResult(
        revision_id=row.revision_id,
        words={AGENT: row.words_agent, EDITED: row.words_edited, HUMAN: row.words_human},
        sections=[SectionAttribution(index=s["index"], heading=s["heading"], words=s["words"]) for s in row.sections],
        spans=[tuple(s) for s in row.spans],
    )


def attribution_for(revision: Revision) -> AttributionResult:
    """The stored attribution of a revision, else computed now (not stored: the draft page reads)."""
    row = Attribution.objects.filter(revision_id=revision.pk).first()
    return _from_row(row) if row is not None else attribute(revision)


@transaction.atomic
def attribution_record(*, revision: Revision, user: Any = None) -> Attribution:
    """Store the attribution of a revision (once: a revision never changes, so neither does it)."""
    row = Attribution.objects.filter(revision_id=revision.pk).first()
    if row is not None:
        return row
    result = attribute(revision)
    try:
        with transaction.atomic():
            row = Attribution.objects.create(
                revision_id=revision.pk, words_agent=result.words[AGENT], words_edited=result.words[EDITED],
                words_human=result.words[HUMAN], ai_share=result.ai_share,
                sections=[{"index": s.index, "heading": s.heading, "words": s.words} for s in result.sections],
                spans=[list(s) for s in result.spans],
            )
    except IntegrityError:  # recorded by a concurrent approval meanwhile: same revision, same result
        return Attribution.objects.get(revision_id=revision.pk)
    audit_log(action="editorial.attribution.record", obj=row, user=user,
              data={"draft": revision.draft_id, "revision": revision.pk, "words": result.words,
                    "ai_share": str(result.ai_share)})
    return row


def disclosure_block(result: AttributionResult) -> dict[str, Any]:
    """The machine-readable AI disclosure of a text, for the manifest and the CMS payload (see
    docs/ai-disclosure.md). Fractions are strings with four decimals, like the manifest's scores."""
    def words(counts: dict[str, int]) -> dict[str, int]:
        return {**{label: counts[label] for label in LABELS}, "total": sum(counts.values())}

    return {
        "format": FORMAT,
        "revision_id": result.revision_id,
        "words": words(result.words),
        "ai_share": str(result.ai_share),
        "ai_involved_share": str(share(result.words[AGENT] + result.words[EDITED], result.total)),
        "sections": [
            {"index": s.index, "heading": s.heading, "words": words(s.words), "ai_share": str(s.ai_share)}
            for s in result.sections
        ],
    }
