"""Banned terms: whole words or phrases, any case, any run of whitespace, with a replacement.

A term whose `inflections` count also matches the words with the same Snowball stems
(`governance.detectors.stems`): a ban on "guarantee" catches "guaranteed" and "guarantees", not
"guard". Single words count their inflections unless told otherwise; phrases only when told."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from governance.detectors.findings import FindingData, hit
from governance.detectors.stems import WORD, stem, words


@dataclass(frozen=True)
class BannedTerm:
    term: str
    replacement: str
    severity: str
    inflections: bool = False

    @property
    def stems(self) -> tuple[str, ...]:
        return tuple(stem(w) for w in WORD.findall(self.term))


def find_banned_terms(text: str, *, folded: str, banned: dict[str, BannedTerm],
                      regex: re.Pattern[str] | None) -> list[FindingData]:
    """`regex` is `banned_regex` of the terms, run on `fold(text)`; `banned` maps `term_key` to each term."""
    findings = []
    taken: list[tuple[int, int]] = []
    for m in regex.finditer(folded) if regex is not None else ():
        entry = banned[term_key(text[m.start():m.end()])]
        taken.append(m.span())
        findings.append(_finding(text, *m.span(), entry=entry, form=False))
    inflected = [entry for entry in banned.values() if entry.inflections and entry.stems]
    if inflected:
        findings += _inflected(text, inflected, taken)
        findings.sort(key=lambda f: f.start)
    return findings


def _finding(text: str, start: int, end: int, *, entry: BannedTerm, form: bool) -> FindingData:
    found = text[start:end]
    message = (f"“{found}” is a form of the banned term “{entry.term}”" if form
               else f"“{found}” is a banned term") + (
        f"; use “{entry.replacement}” instead." if entry.replacement else "."
    )
    return hit(text, start, end, category="banned_term", severity=entry.severity, message=message,
               suggestion=entry.replacement)


def _inflected(text: str, entries: list[BannedTerm], taken: list[tuple[int, int]]) -> list[FindingData]:
    # Words with the term's stems in a row, separated by whitespace only; the longest term first.
    entries = sorted(entries, key=lambda e: len(e.stems), reverse=True)
    # Only the words that begin like a term's first stem are stemmed: the rest cannot match.
    heads = re.compile(r"(?<!\w)(?:" + "|".join(sorted({re.escape(e.stems[0][:3]) for e in entries})) + ")",
                       re.IGNORECASE)
    starts = {m.start() for m in heads.finditer(text)}
    if not starts:
        return []
    found = list(words(text))
    starts = {i for i, (start, _, _) in enumerate(found) if start in starts}
    findings = []
    for entry in entries:
        n = len(entry.stems)
        for i in sorted(starts):
            run = found[i:i + n]
            if len(run) < n:
                continue
            if tuple(s for _, _, s in run) != entry.stems:
                continue
            if any(text[a[1]:b[0]].strip() for a, b in zip(run, run[1:])):
                continue
            start, end = run[0][0], run[-1][1]
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            findings.append(_finding(text, start, end, entry=entry, form=True))
    return findings


def term_key(term: str) -> str:
    return " ".join(term.split()).casefold()


def _char_pattern(char: str) -> str:
    # Matches `char` in either case in fold(text), where only ASCII letters were lowered.
    if char.isascii():
        return re.escape(char.lower())
    lower, upper = char.lower(), char.upper()
    if lower != upper and len(lower) == len(upper) == 1:
        return f"[{re.escape(lower)}{re.escape(upper)}]"
    return re.escape(char)


def _phrase(term: str) -> str:
    # Any run of whitespace in the text matches a space in the term.
    return r"\s+".join("".join(_char_pattern(c) for c in word) for word in term.split())


def banned_regex(terms: Iterable[str]) -> re.Pattern[str] | None:
    # One pass for all terms, with no groups: the engine then skips most alternatives by their
    # first letter. The longest term comes first, so a banned phrase wins over a banned word in it.
    terms = sorted(terms, key=len, reverse=True)
    if not terms:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(_phrase(t) for t in terms)})(?!\w)")
