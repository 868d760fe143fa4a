"""Policy checks over text, configured by a brand's rule-set version (immutable once saved).

The detectors are in the `governance.detectors` package; the schema of `banned_terms`,
`disclaimers` and `rules` is documented in `governance.detectors.rules`.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from governance.detectors.findings import FindingData
from governance.detectors.merge import merge_findings
from governance.detectors.rules import compile_rules
from governance.models import Finding, RuleSet, RuleSetVersion


def rule_set_version_for(brand: Any) -> RuleSetVersion | None:
    """The active version of the brand's (first) rule set, else of the global one: one query."""
    first: dict[bool, RuleSet] = {}  # is global → the first such rule set
    candidates = RuleSet.objects.filter(Q(brand=brand) | Q(brand__isnull=True)).select_related("active_version")
    for rule_set in candidates.order_by("pk"):
        first.setdefault(rule_set.brand_id is None, rule_set)
    for is_global in (False, True):
        rule_set = first.get(is_global)
        if rule_set is not None and rule_set.active_version_id:
            return rule_set.active_version
    return None


def evaluate_text(text: str, *, channel: str, banned_terms: Any, disclaimers: Any, rules: Any,
                  regions: Iterable[str] = (), sources: Iterable[str] = ()) -> list[FindingData]:
    """Findings for `text` under a raw configuration, which need not be saved.

    `regions` are the brand's phone regions (`Brand.phone_regions`); `sources` the texts of the
    retrieved sources, which keep the claims they support quiet.

    Findings are sorted by start, and those without a span come last. Raises ValidationError
    when the configuration is invalid (see `validate_rules`).
    """
    return compile_rules(banned_terms, disclaimers, rules).check(text, channel=channel, regions=regions,
                                                                 sources=sources)


def evaluate(text: str, *, channel: str, version: RuleSetVersion | None, brand: Any = None,
             sources: Iterable[str] = ()) -> list[FindingData]:
    """Findings for `text` under a saved rule-set version; `brand` gives its phone regions, `sources`
    the retrieved source texts that keep the claims they support quiet."""
    if version is None:
        return []
    return evaluate_text(
        text, channel=channel, banned_terms=version.banned_terms, disclaimers=version.disclaimers, rules=version.rules,
        regions=(brand.phone_regions or []) if brand is not None else (), sources=sources,
    )


def findings_record(*, revision: Any, run: Any, version: RuleSetVersion | None, findings: list[FindingData]) -> list[Finding]:
    """Store the findings of a revision, overlapping ones about the same problem merged into one
    (`governance.detectors.merge`): the strongest is the finding, the others its `details`."""
    return Finding.objects.bulk_create(
        [
            Finding(
                revision=revision,
                run=run,
                rule_set_version=version,
                category=m.finding.category,
                severity=m.finding.severity,
                start=m.finding.start,
                end=m.finding.end,
                text=m.finding.text,
                message=m.finding.message,
                suggestion=m.finding.suggestion,
                details=m.details_json(),
            )
            for m in merge_findings(findings)
        ]
    )
