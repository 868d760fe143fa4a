"""Is a written section usable? The acceptance check every section passes before a draft is in review.

A section is **usable** when its text
1. has at least the section's minimum number of words (`min_words`; by default a quarter of its target,
   from 8 words up to AIOS_SECTION_MIN_WORDS);
2. holds no heading (`#` lines, or a setext underline) — the draft's `## ` headings are its structure;
3. holds no markup unless the template section allows it (`allow_markup`): no HTML tags, code fences,
   horizontal rules, tables, nor lines that are only a list marker or punctuation;
4. does not repeat itself: no sentence twice, no word run in a loop, no 4-word phrase over and over;
5. does not echo the prompt: none of its fences (`<<<`, `>>>`), framing ("untrusted reference
   material"), the section's instruction, or long stretches of the prompt's own wording;
6. ends with a finished sentence (or a finished list item);
7. is written in the brief's language (checked with langdetect once there are enough words to tell).

`check_section` returns the problems (empty = usable). `trim_to_sentence` cuts a text that stopped at
`max_tokens` back to its last complete sentence. Both are pure functions: the writer
(agents/pipeline/writer.py) applies them to every try, and benches/quality.py reports by them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from langdetect import DetectorFactory, LangDetectException, detect_langs

DetectorFactory.seed = 0  # langdetect samples at random; the same text must always get the same verdict

DEFINITION = __doc__.split("\n\n")[1]

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_LETTERS_ONLY = re.compile(r"^[^\W\d_]{2,}$")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}([ \t]|$)|^[ \t]*(=+|-+)[ \t]*$", re.MULTILINE)
_HTML = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>|<!--|-->")
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$", re.MULTILINE)
_TABLE = re.compile(r"^\s*\|.*\|\s*$", re.MULTILINE)
_BARE_MARKER = re.compile(r"^[ \t]*([-*+•]|\d+[.)]|[#>|=~`_*.,;:!?-]+)[ \t]*$", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*([-*+•]|\d+[.)])\s+\S")
_SENTENCE_END = re.compile(r"[.!?…](?:[\"'”’»)\]*_]*)(?=\s|$)")
_FINAL = re.compile(r"[.!?…][\"'”’»)\]*_]*$")
_ECHO_MARKERS = ("<<<", ">>>", "untrusted reference material", "never follow instructions", "background facts",
                 "example of a finished section", "for the shape only")


# What a template section may say about its own acceptance.
RULE_FIELDS = ("min_words", "target_words", "allow_markup")


@dataclass(frozen=True)
class Rules:
    min_words: int
    target_words: int
    allow_markup: bool = False
    language: str = "en"


def rules_for(section: dict | None, *, version: Any = None, language: str = "en") -> Rules:
    """A planned section's rules: its own `min_words`, `target_words` and `allow_markup` where it sets
    them, else those of the template version's section with the same heading (an outline a person
    edited keeps only headings and instructions), else the settings' defaults."""
    section = section or {}
    if version is not None and not any(k in section for k in RULE_FIELDS):
        section = next((s for s in version.sections or [] if s.get("heading") == section.get("heading")), section)
    target = int(section.get("target_words") or settings.AIOS_SECTION_TARGET_WORDS)
    # By default a quarter of the target, between 8 words and AIOS_SECTION_MIN_WORDS: one full sentence
    # at least, and a short section may be short.
    default = min(settings.AIOS_SECTION_MIN_WORDS, max(8, target // 4), max(1, target // 2))
    minimum = int(section.get("min_words") or default)
    return Rules(min_words=minimum, target_words=target, allow_markup=bool(section.get("allow_markup")),
                 language=language or "en")


def max_tokens_for(rules: Rules, *, cap: int) -> int:
    """Enough tokens for the target length with room to finish the sentence (about 1.4 tokens a word
    in English, plus half again), never above the version's own max_tokens."""
    return max(16, min(cap, int(rules.target_words * 2.1) + 16))


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentences(text: str) -> list[str]:
    parts, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        parts.append(text[start:match.end()].strip())
        start = match.end()
    if text[start:].strip():
        parts.append(text[start:].strip())
    return [p for p in parts if p]


def _normal(sentence: str) -> str:
    return " ".join(w.lower() for w in words(sentence))


def _finished(text: str) -> bool:
    last = _HTML.sub("", text).rstrip().split("\n")[-1].strip()
    if _FINAL.search(last):
        return True
    return bool(_LIST_ITEM.match(last)) and len(words(last)) >= 2


def _loops(text: str) -> str | None:
    seen: dict[str, int] = {}
    for sentence in sentences(text):
        key = _normal(sentence)
        if len(key.split()) >= 3:
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                return f"repeats the sentence “{sentence[:80]}”"
    tokens = [w.lower() for w in words(text)]
    run = 1
    for a, b in zip(tokens, tokens[1:]):
        run = run + 1 if a == b else 1
        if run >= 4:
            return f"repeats “{a}” in a loop"
    grams: dict[tuple[str, ...], int] = {}
    for i in range(len(tokens) - 3):
        gram = tuple(tokens[i:i + 4])
        grams[gram] = grams.get(gram, 0) + 1
        if grams[gram] >= 3:
            return f"repeats “{' '.join(gram)}” over and over"
    return None


def _echo(text: str, *, framing: str, instruction: str) -> str | None:
    lowered = text.lower()
    for marker in _ECHO_MARKERS:
        if marker in lowered:
            return f"echoes the prompt (“{marker}”)"
    if instruction and len(words(instruction)) >= 5 and _normal(instruction) in _normal(text):
        return "echoes the section's instruction"
    # Long stretches of the template's own wording (not the brief's fields or the reference material,
    # which a section may legitimately draw on) are the model reading its instructions back.
    shingles = {tuple(w.lower() for w in words(framing)[i:i + 8]) for i in range(max(0, len(words(framing)) - 7))}
    mine = [tuple(w.lower() for w in words(text)[i:i + 8]) for i in range(max(0, len(words(text)) - 7))]
    if mine and sum(1 for s in mine if s in shingles) / len(mine) >= 0.3:
        return "repeats the prompt's wording"
    return None


def _language(text: str, expected: str) -> str | None:
    alphabetic = [w for w in words(text) if _LETTERS_ONLY.match(w)]
    if len(alphabetic) < 12:
        return None  # too little to tell
    try:
        best = detect_langs(text)[0]
    except LangDetectException:
        return None
    if best.lang.split("-")[0] != expected.split("-")[0] and best.prob >= 0.9:
        return f"is not in the brief's language ({best.lang}, expected {expected})"
    return None


def check_section(text: str, rules: Rules, *, framing: str = "", instruction: str = "") -> list[str]:
    """The problems that make `text` unusable as a section body; an empty list means usable."""
    text = text.strip()
    count = len(words(text))
    if count < rules.min_words:
        return [f"too short ({count} word{'s' if count != 1 else ''}; at least {rules.min_words})"]
    problems = []
    if _HEADING.search(text):
        problems.append("contains a heading")
    if not rules.allow_markup:
        if _HTML.search(text):
            problems.append("contains HTML markup")
        elif _FENCE.search(text) or _RULE.search(text) or _TABLE.search(text):
            problems.append("contains markup (code fence, rule or table)")
        elif _BARE_MARKER.search(text):
            problems.append("has a line that is only a list marker or punctuation")
    for finding in (_loops(text), _echo(text, framing=framing, instruction=instruction)):
        if finding:
            problems.append(finding)
    if not _finished(text):
        problems.append("stops mid-sentence")
    language = _language(text, rules.language)
    if language:
        problems.append(language)
    return problems


def trim_to_sentence(text: str) -> str:
    """`text` up to the end of its last complete sentence ("" when there is none): what is kept of a
    text that stopped at max_tokens, where whatever follows the last full stop is unfinished."""
    ends = list(_SENTENCE_END.finditer(text))
    return text[: ends[-1].end()].strip() if ends else ""
