"""Custom patterns: a brand's own regular expressions, each with its category and message."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from governance.detectors.findings import FindingData, hit

MAX_PATTERN_LENGTH = 1000
CATEGORY = re.compile(r"[a-z][a-z0-9_]{0,39}")  # Finding.category is 40 characters


@dataclass(frozen=True)
class CustomPattern:
    regex: re.Pattern[str]
    category: str
    message: str
    severity: str
    suggestion: str


def compile_pattern(entry: dict[str, Any]) -> re.Pattern[str]:
    flags = re.MULTILINE | (re.IGNORECASE if entry.get("ignore_case", True) else 0)
    return re.compile(entry["pattern"], flags)


def find_custom(text: str, patterns: tuple[CustomPattern, ...]) -> list[FindingData]:
    return [
        hit(text, *m.span(), category=p.category, severity=p.severity, message=p.message, suggestion=p.suggestion)
        for p in patterns
        for m in p.regex.finditer(text)
        if m.end() > m.start()
    ]
