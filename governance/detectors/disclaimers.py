"""Disclaimers: a channel's required text must appear in its drafts."""
from __future__ import annotations

from governance.detectors.findings import BLOCKING, FindingData, normalise


def missing_disclaimer(text: str, *, channel: str, disclaimers: dict[str, str]) -> list[FindingData]:
    disclaimer = disclaimers.get(channel, "").strip()
    if not disclaimer or normalise(disclaimer) in normalise(text):
        return []
    return [FindingData(category="missing_disclaimer", severity=BLOCKING,
                        message=f"The {channel} channel requires this disclaimer: “{disclaimer}”",
                        suggestion=disclaimer)]
