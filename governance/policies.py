"""Policy checks over text: banned terms and the disclaimer a channel requires (first pass)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from governance.models import Finding, RuleSet, RuleSetVersion


@dataclass(frozen=True)
class FindingData:
    category: str
    severity: str
    message: str
    start: int | None = None
    end: int | None = None
    text: str = ""
    suggestion: str = ""


def rule_set_version_for(brand: Any) -> RuleSetVersion | None:
    """The brand's active rule-set version, else the global one."""
    for rule_set in (RuleSet.objects.filter(brand=brand).first(), RuleSet.objects.filter(brand__isnull=True).first()):
        if rule_set and rule_set.active_version_id:
            return rule_set.active_version
    return None


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def evaluate(text: str, *, channel: str, version: RuleSetVersion | None) -> list[FindingData]:
    if version is None:
        return []
    findings: list[FindingData] = []
    for entry in version.banned_terms or []:
        term = (entry.get("term") or "").strip()
        if not term:
            continue
        pattern = re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)", re.IGNORECASE)
        for match in pattern.finditer(text):
            replacement = entry.get("replacement", "")
            findings.append(
                FindingData(
                    category="banned_term",
                    severity=Finding.Severity.BLOCKING,
                    message=f"“{match.group(0)}” is a banned term"
                    + (f"; use “{replacement}” instead." if replacement else "."),
                    start=match.start(),
                    end=match.end(),
                    text=match.group(0),
                    suggestion=replacement,
                )
            )
    disclaimer = (version.disclaimers or {}).get(channel, "").strip()
    if disclaimer and _normalise(disclaimer) not in _normalise(text):
        findings.append(
            FindingData(
                category="missing_disclaimer",
                severity=Finding.Severity.BLOCKING,
                message=f"The {channel} channel requires this disclaimer: “{disclaimer}”",
                suggestion=disclaimer,
            )
        )
    findings.sort(key=lambda f: (f.start is None, f.start or 0))
    return findings


def findings_record(*, revision: Any, run: Any, version: RuleSetVersion | None, findings: list[FindingData]) -> list[Finding]:
    return Finding.objects.bulk_create(
        [
            Finding(
                revision=revision,
                run=run,
                rule_set_version=version,
                category=f.category,
                severity=f.severity,
                start=f.start,
                end=f.end,
                text=f.text,
                message=f.message,
                suggestion=f.suggestion,
            )
            for f in findings
        ]
    )
