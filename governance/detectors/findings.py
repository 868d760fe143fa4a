"""What every detector returns, and the text helpers they share."""
from __future__ import annotations

import re
import string
from dataclasses import dataclass

from governance.models import Finding

SEVERITIES: tuple[str, ...] = tuple(Finding.Severity.values)
BLOCKING, WARNING = Finding.Severity.BLOCKING.value, Finding.Severity.WARNING.value


@dataclass(frozen=True)
class FindingData:
    category: str
    severity: str
    message: str
    start: int | None = None
    end: int | None = None
    text: str = ""
    suggestion: str = ""


def hit(text: str, start: int, end: int, *, category: str, severity: str, message: str,
        suggestion: str = "") -> FindingData:
    # Every span finding takes its text from the span itself, so text[start:end] == finding.text.
    return FindingData(category=category, severity=severity, message=message, start=start, end=end,
                       text=text[start:end], suggestion=suggestion)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(text: str) -> str:
    """Lower-case ASCII letters only, so every offset stays that of `text`.

    The fixed patterns are written in lower case and run on this without IGNORECASE. Then
    the regex engine can skip an alternative by its first letter, which is most of the
    speed-up on long texts.
    """
    return text.translate(_ASCII_LOWER)
