"""One problem, one finding: overlapping findings about the same problem are merged.

Findings belong to a problem family: a claim that needs a source ("claim") and a sentence that no
retrieved source supports ("unsupported_claim") are the same problem; every other category is a
family of its own. Findings of one family whose spans overlap (directly or through a chain) form a
group; the strongest wins and the others become its `details`. Strongest: the higher severity, then
the family's preference (for sourcing, the grounding verdict, which was checked against the sources,
before the phrasing pattern), then the longer span, then the first. Findings without a span are
merged only with identical ones (same category and message).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from governance.detectors.findings import SEVERITIES, FindingData

_FAMILY = {"claim": "sourcing", "unsupported_claim": "sourcing"}
_PREFERENCE = {"unsupported_claim": 0, "claim": 1}  # lower wins within a family, after severity
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # info < warning < blocking


@dataclass(frozen=True)
class MergedFinding:
    finding: FindingData
    details: list[FindingData] = field(default_factory=list)

    def details_json(self) -> list[dict]:
        return [asdict(d) for d in self.details]


def _strength(f: FindingData) -> tuple:
    span = (f.end or 0) - (f.start or 0)
    return (-_SEVERITY_RANK.get(f.severity, 0), _PREFERENCE.get(f.category, 0), -span, f.start or 0)


def _merged(group: list[FindingData]) -> MergedFinding:
    ordered = sorted(group, key=_strength)
    return MergedFinding(ordered[0], sorted(ordered[1:], key=lambda f: (f.start or 0, f.end or 0)))


def merge_findings(findings: list[FindingData]) -> list[MergedFinding]:
    """Groups of overlapping findings of one family, each as its strongest with the rest as details;
    in the order of the input's first member of each group."""
    groups: list[list[FindingData]] = []
    open_group: dict[str, tuple[int, list[FindingData]]] = {}  # family → (end so far, group)
    spanless: dict[tuple[str, str], list[FindingData]] = {}
    for f in sorted((f for f in findings if f.start is not None), key=lambda f: (f.start, f.end)):
        family = _FAMILY.get(f.category, f.category)
        current = open_group.get(family)
        if current and f.start < current[0]:
            current[1].append(f)
            open_group[family] = (max(current[0], f.end or f.start), current[1])
        else:
            group = [f]
            groups.append(group)
            open_group[family] = (f.end or f.start, group)
    for f in findings:
        if f.start is None:
            key = (f.category, f.message)
            if key not in spanless:
                spanless[key] = []
                groups.append(spanless[key])
            spanless[key].append(f)
    position = {id(f): i for i, f in enumerate(findings)}
    groups.sort(key=lambda g: min(position[id(f)] for f in g))
    return [_merged(g) for g in groups]
