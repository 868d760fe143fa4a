"""Banned terms: whole words or phrases, any case, any run of whitespace, with a replacement.

A term whose `inflections` count also matches the words that share a form with it
(`governance.detectors.stems.forms`): the same dictionary lemma (`simplemma`), or, for words the
dictionary does not know, the same Snowball stem. A ban on "guarantee" catches "guaranteed" and
"guarantees", not "guard" or "guarantor"; a ban on "cheap" catches "cheaper" and "cheapest", a ban on
"child" "children", a ban on "bad" "worst"; a ban on "disrupt" not "disruption", a ban on "best"
not "better". Single words count their inflections unless told
otherwise; phrases only when told."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from governance.detectors.findings import FindingData, hit
from governance.detectors.stems import WORD, forms, term_forms


@dataclass(frozen=True)
class BannedTerm:
    term: str
    replacement: str
    severity: str
    inflections: bool = False

    @property
    def forms(self) -> tuple[frozenset[str], ...]:
        return tuple(term_forms(w) for w in WORD.findall(self.term))


def find_banned_terms(text: str, *, folded: str, banned: dict[str, BannedTerm],
                      regex: re.Pattern[str] | None) -> list[FindingData]:
    """`regex` is `banned_regex` of the terms, run on `fold(text)`; `banned` maps `term_key` to each term."""
    findings = []
    taken: list[tuple[int, int]] = []
    for m in regex.finditer(folded) if regex is not None else ():
        entry = banned[term_key(text[m.start():m.end()])]
        taken.append(m.span())
        findings.append(_finding(text, *m.span(), entry=entry, form=False))
    inflected = [entry for entry in banned.values() if entry.inflections and entry.forms]
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
    # Words sharing a form with the term's words in a row, separated by whitespace only; the longest
    # term first. Irregular forms ("worst" for "bad") share no letters with the term, so every word is
    # looked at; `forms` is cached per word, so a long text costs one lookup per distinct word.
    entries = sorted(entries, key=lambda e: len(e.forms), reverse=True)
    found = [(m.start(), m.end(), forms(m.group(0))) for m in WORD.finditer(text)]
    findings = []
    for entry in entries:
        wanted = entry.forms
        n = len(wanted)
        for i in range(len(found) - n + 1):
            if not wanted[0] & found[i][2]:
                continue
            run = found[i:i + n]
            if any(not (want & have) for (_, _, have), want in zip(run, wanted)):
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
