"""Sentence-level provenance: which retrieved source supports each sentence of a written draft.

After the writer finishes, `ground()` splits the draft into sentences (with their character offsets
in the revision's text), embeds them together with the run's retrieved chunks in one batch, and links
every sentence to the chunk that supports it best (cosine similarity). A chunk is scored by its best
passage: the larger of the similarity to the whole chunk and to each of its own sentences, so a
sentence copied from a long chunk still scores near 1.

A sentence is *supported* when its best score reaches `settings.AIOS_GROUNDING_THRESHOLD` and every
figure in it also appears in the retrieved sources (a figure no source contains is invented, however
similar the rest of the sentence is).

Which sentences must be supported is a deliberately simple heuristic, `factual_reasons()`: a sentence
"looks factual" when it contains
  * a figure (a digit not inside a word, e.g. "3", "2019", "4.5"), a percentage or a currency sign;
  * a month or weekday name (a date);
  * a superlative or absolute claim ("best", "first", "only", "largest", "guaranteed", "proven", ...; not
    "first" as a time or a step: "his first year here", "at first", "the first step");
  * a proper name: a capitalised word that does not start the sentence (and is not "I", "I'm", "I've" …).
Factual-looking sentences that are not supported become warnings (category "unsupported_claim") for
the editor. When the run retrieved no sources at all, nothing can be grounded and nothing is flagged:
the links are still stored, every one without a chunk.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings

from agents.embeddings import EmbeddingError, embed
from governance.detectors.claims import FIRST_CLAIM
from governance.detectors.findings import WARNING, FindingData
from governance.models import Finding

log = logging.getLogger(__name__)
INFO = Finding.Severity.INFO.value

MAX_SENTENCES = 2000  # a very long draft is grounded up to here (its text is capped elsewhere anyway)
SNIPPET_CHARS = 240

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]\s+|\d{1,3}[.)]\s+|>\s*)+")
# A sentence ends at . ! or ? (with closing quotes/brackets) followed by space and a likely sentence start.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "no", "inc", "ltd", "co", "jr", "sr",
                  "approx", "fig", "p", "pp"}

_FIGURE = re.compile(r"(?<!\w)\d+(?:[.,]\d+)*")
_PERCENT_OR_MONEY = re.compile(r"%|\bper ?cent\b|[$€£¥₹]|\b(?:USD|EUR|GBP)\b", re.IGNORECASE)
_DATE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday)\b"
)
_CLAIM = re.compile(
    rf"\b(?:best|worst|{FIRST_CLAIM}|only|largest|biggest|smallest|fastest|slowest|cheapest|highest|lowest|"
    r"most|least|leading|top|unique|unmatched|unbeatable|record|award[- ]winning|world'?s|"
    r"guaranteed?|proven|clinically|scientifically|certified|always|never|every|all-time|"
    r"number one|no\. ?1)\b|#1",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\w'’-]*")
_PRONOUN_I = re.compile(r"I(?:['’](?:m|ve|ll|d))?")  # "I", "I'm", "I’ve": capitalised, never a name


@dataclass
class Sentence:
    section: str
    start: int
    end: int
    text: str
    reasons: list[str] = field(default_factory=list)


def _split_line(line: str) -> list[tuple[int, int]]:
    """(start, end) of the sentences of one line, relative to the line."""
    spans, start = [], 0
    for m in _BOUNDARY.finditer(line):
        before = line[start:m.start()].rstrip("\"'”’)]")
        last_word = before.rsplit(None, 1)[-1].rstrip(".").lower() if before.split() else ""
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue  # "Dr. Smith", "J. Doe": not the end of a sentence
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(line)))
    return spans


def split_sentences(content: str) -> list[Sentence]:
    """Sentences of a Markdown draft with offsets into `content`; headings name the section and are
    not sentences; list markers and quote marks at a line's start are left out of the span."""
    sentences: list[Sentence] = []
    section = ""
    offset = 0
    in_code = False
    for line in content.split("\n"):
        line_start = offset
        offset += len(line) + 1
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code or not line.strip():
            continue
        heading = _HEADING.match(line)
        if heading:
            section = heading.group(1).strip()
            continue
        marker = _LIST_MARK.match(line)
        skip = marker.end() if marker else 0
        body = line[skip:]
        for start, end in _split_line(body):
            piece = body[start:end]
            lead = len(piece) - len(piece.lstrip())
            piece = piece.strip()
            if not piece:
                continue
            absolute = line_start + skip + start + lead
            sentences.append(Sentence(section=section, start=absolute, end=absolute + len(piece), text=piece))
            if len(sentences) >= MAX_SENTENCES:
                return sentences
    return sentences


def factual_reasons(text: str, *, known_names: set[str] = frozenset()) -> list[str]:
    """Why a sentence looks like a factual claim (empty: it does not). See the module docstring.
    `known_names` (lower case words, e.g. the brand's own name) do not count as proper names."""
    reasons = []
    if _FIGURE.search(text):
        reasons.append("figure")
    if _PERCENT_OR_MONEY.search(text):
        reasons.append("percentage or price")
    if _DATE.search(text):
        reasons.append("date")
    if _CLAIM.search(text):
        reasons.append("superlative or absolute claim")
    words = [w for w in _WORD.findall(text) if w.lower() not in known_names]
    words = [w for w in words[1:] if not _PRONOUN_I.fullmatch(w)]
    if any(w[0].isupper() and not w.isupper() for w in words) or any(len(w) > 1 and w.isupper() for w in words):
        reasons.append("proper name")
    return reasons


def _figures(text: str) -> set[str]:
    return {f.replace(",", "") for f in _FIGURE.findall(text)}


def _snippet(text: str, sentence: str) -> str:
    """The part of the chunk that matches best (the chunk's sentence most like this one, by shared
    words), cut to SNIPPET_CHARS."""
    words = {w.lower() for w in _WORD.findall(sentence)}
    text = " ".join(text.split())
    parts = [text[s:e].strip() for s, e in _split_line(text)] or [text]
    best = max(parts, key=lambda p: len(words & {w.lower() for w in _WORD.findall(p)}))
    return best if len(best) <= SNIPPET_CHARS else best[: SNIPPET_CHARS - 1].rstrip() + "…"


@dataclass
class Grounding:
    sentences: list[dict[str, Any]]
    findings: list[FindingData]


def ground(content: str, sources: list[dict[str, Any]], *, threshold: float | None = None,
           known_names: list[str] | None = None) -> Grounding:
    """Link each sentence of `content` to its best supporting source chunk; flag unsupported claims.
    `known_names` (e.g. the brand's name) alone do not make a sentence look factual."""
    threshold = settings.AIOS_GROUNDING_THRESHOLD if threshold is None else threshold
    names = {w.lower() for name in known_names or [] for w in _WORD.findall(name)}
    sentences = split_sentences(content)
    for s in sentences:
        s.reasons = factual_reasons(s.text, known_names=names)
    sources = [s for s in sources if s.get("text")]
    if not sentences:
        return Grounding([], [])
    if not sources:
        return Grounding(
            [{"section": s.section, "start": s.start, "end": s.end, "chunk_id": None, "document_id": None,
              # Nothing to check against: "supported" is unknown (None), and nothing is marked.
              "title": "", "score": None, "supported": None if s.reasons else True, "matched": False,
              "factual": bool(s.reasons), "snippet": ""}
             for s in sentences],
            [],
        )
    # One batch: the draft's sentences, each whole chunk, and each chunk's own sentences.
    passages: list[tuple[int, str]] = []
    for i, source in enumerate(sources):
        text = " ".join(source["text"].split())
        passages.append((i, text))
        passages += [(i, text[a:b].strip()) for a, b in _split_line(text) if text[a:b].strip() != text]
    try:
        vectors = embed([s.text for s in sentences] + [p for _, p in passages])
    except EmbeddingError as exc:  # the draft is still usable; the editor is told what was not checked
        log.warning("grounding skipped: %s", exc)
        unlinked = ground(content, [], threshold=threshold, known_names=known_names).sentences
        return Grounding(unlinked, [FindingData(
            category="unsupported_claim", severity=INFO,
            message=f"The sentences of this draft could not be checked against its sources: {exc}",
        )])
    matrix = np.asarray(vectors, dtype=np.float64)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    similarity = matrix[: len(sentences)] @ matrix[len(sentences):].T  # sentences × passages, cosine
    owner = np.array([i for i, _ in passages])
    # Each source's score for each sentence: the best of its passages.
    per_source = np.stack([similarity[:, owner == i].max(axis=1) for i in range(len(sources))], axis=1)

    known_figures = set().union(*(_figures(s["text"]) for s in sources))
    links, findings = [], []
    for row, sentence in enumerate(sentences):
        index = int(per_source[row].argmax())
        source, score = sources[index], float(per_source[row, index])
        missing = _figures(sentence.text) - known_figures
        supported = score >= threshold and not missing
        links.append({
            "section": sentence.section,
            "start": sentence.start,
            "end": sentence.end,
            "chunk_id": source.get("chunk_id"),
            "document_id": source.get("document_id"),
            "title": source.get("title", ""),
            "score": round(score, 4),
            "supported": supported or not sentence.reasons,
            "matched": score >= threshold,
            "factual": bool(sentence.reasons),
            "snippet": _snippet(source["text"], sentence.text),
        })
        if sentence.reasons and not supported:
            why = (f"the figure{'s' if len(missing) > 1 else ''} {', '.join(sorted(missing))} "
                   f"{'appear' if len(missing) > 1 else 'appears'} in no source") if missing and score >= threshold \
                else f"the closest source, “{source.get('title', '')}”, matches only {score:.2f}"
            findings.append(FindingData(
                category="unsupported_claim",
                severity=WARNING,
                message=f"This sentence looks factual ({', '.join(sentence.reasons)}) but no retrieved source "
                        f"supports it: {why}. Check it or add a source.",
                start=sentence.start,
                end=sentence.end,
                text=content[sentence.start:sentence.end],
            ))
    return Grounding(links, findings)


def grounding_summary(provenance: dict[str, Any] | None) -> dict[str, int] | None:
    """Counts for the draft page: sentences, linked to a source, factual, unsupported."""
    sentences = (provenance or {}).get("sentences")
    if not isinstance(sentences, list) or not sentences:
        return None
    links = [s for s in sentences if isinstance(s, dict)]
    return {
        "sentences": len(links),
        "linked": sum(1 for s in links if s.get("matched")),
        "factual": sum(1 for s in links if s.get("factual")),
        "unsupported": sum(1 for s in links if s.get("supported") is False),
    }
