"""Length and reading level: word counts and the Flesch–Kincaid grade, against per-channel limits."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

import pyphen

from governance.detectors.findings import FindingData

_WORD = re.compile(r"[^\W_]+(?:['’.,-][^\W_]+)*")
_LETTER_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# Ends of sentences, and the ends of lines that stand alone without a full stop, such as
# blank-line paragraphs, Markdown headings and list items.
_SENTENCE_BREAK = re.compile(
    r"[.!?…]+[\"'”’)\]]*(?=\s|$)|\n[ \t]*\n|\n(?=[ \t]*(?:#|[-*+•][ \t]|\d+[.)][ \t]))"
)


def count_words(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))


@cache
def _hyphenator() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


@lru_cache(maxsize=65536)
def _syllables(word: str) -> int:
    return len(_hyphenator().positions(word)) + 1


def flesch_kincaid_grade(text: str) -> float | None:
    """The Flesch–Kincaid grade level, or None for text without words.

    Syllables are counted as hyphenation points plus one. That undercounts a little
    ("ev-ery"), but it is deterministic and needs no data from the network.
    """
    words = _LETTER_WORD.findall(text)
    if not words:
        return None
    sentences = max(1, sum(1 for part in _SENTENCE_BREAK.split(text) if _LETTER_WORD.search(part)))
    syllables = sum(_syllables(word.lower()) for word in words)
    return 0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59


@dataclass(frozen=True)
class Limit:
    default: float | None
    channels: dict[str, float | None]
    severity: str

    def for_channel(self, channel: str) -> float | None:
        return self.channels.get(channel, self.default)


def too_long(text: str, *, limit: Limit, channel: str) -> list[FindingData]:
    words_limit = limit.for_channel(channel)
    if words_limit is None:
        return []
    words = count_words(text)
    if words <= words_limit:
        return []
    return [FindingData(category="length", severity=limit.severity,
                        message=f"The text has {words:,} words; the limit is {int(words_limit):,}.")]


def too_hard(text: str, *, limit: Limit, channel: str) -> list[FindingData]:
    max_grade = limit.for_channel(channel)
    grade = None if max_grade is None else flesch_kincaid_grade(text)
    if grade is None or grade <= max_grade:
        return []
    return [FindingData(category="reading_level", severity=limit.severity,
                        message=f"The reading level is grade {grade:.1f}; the limit is {max_grade:g}. "
                                "Shorter sentences and shorter words bring it down.")]
