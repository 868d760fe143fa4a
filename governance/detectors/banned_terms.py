"""Banned terms: whole words or phrases, any case, any run of whitespace, with a replacement."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from governance.detectors.findings import FindingData, hit


@dataclass(frozen=True)
class BannedTerm:
    term: str
    replacement: str
    severity: str


def find_banned_terms(text: str, *, folded: str, banned: dict[str, BannedTerm],
                      regex: re.Pattern[str] | None) -> list[FindingData]:
    """`regex` is `banned_regex` of the terms, run on `fold(text)`; `banned` maps `term_key` to each term."""
    if regex is None:
        return []
    findings = []
    for m in regex.finditer(folded):
        entry = banned[term_key(text[m.start():m.end()])]
        message = f"“{m.group(0)}” is a banned term" + (
            f"; use “{entry.replacement}” instead." if entry.replacement else "."
        )
        findings.append(hit(text, *m.span(), category="banned_term", severity=entry.severity,
                            message=message, suggestion=entry.replacement))
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
