"""AI disclosure: a brand (every channel) or a channel may require a visible line saying that the text
was written with AI. Missing, it is a finding like a missing disclaimer.

Configured in a rule set's `rules` under `"disclosure"` (see `governance.detectors.rules`):

    {"text": "This article was written with the help of AI.",  # the line, required when the rule is on
     "required": false,          # the brand's rule: every channel
     "channels": {"blog": true}, # a channel's rule; overrides "required" for that channel
     "severity": "blocking"}

The line must appear in the text, ignoring case and whitespace. Which words the agent wrote is
recorded separately for every published piece (editorial/attribution.py, docs/ai-disclosure.md).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from governance.detectors.findings import BLOCKING, SEVERITIES, FindingData, normalise
from governance.models import Channel

CATEGORY = "missing_disclosure"
_KEYS = ("text", "required", "channels", "severity")


@dataclass(frozen=True)
class DisclosureRule:
    text: str
    required: bool
    channels: dict[str, bool]
    severity: str

    def applies_to(self, channel: str) -> bool:
        return self.channels.get(channel, self.required)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def disclosure_errors(config: Any) -> list[str]:
    """One message per bad entry of `rules.disclosure`, each naming where it is."""
    path = "rules.disclosure"
    if not isinstance(config, dict):
        return [f"{path}: must be an object with \"text\", \"required\", \"channels\" and \"severity\""]
    errors = [f"{path}: unknown key {_show(k)}; known keys are {', '.join(_KEYS)}" for k in config if k not in _KEYS]
    if "text" in config and not isinstance(config["text"], str):
        errors.append(f"{path}.text: must be a string")
    if "required" in config and not isinstance(config["required"], bool):
        errors.append(f"{path}.required: must be true or false")
    channels = config.get("channels", {})
    if not isinstance(channels, dict):
        errors.append(f"{path}.channels: must be an object of channel: true/false")
        channels = {}
    for channel, on in channels.items():
        if channel not in Channel.values:
            errors.append(f"{path}.channels: unknown channel {_show(channel)}; channels are {', '.join(Channel.values)}")
        elif not isinstance(on, bool):
            errors.append(f"{path}.channels.{channel}: must be true or false")
    if config.get("severity", BLOCKING) not in SEVERITIES:
        errors.append(f"{path}.severity: unknown severity {_show(config['severity'])}; use one of {', '.join(SEVERITIES)}")
    switched_on = config.get("required") is True or any(v is True for v in channels.values())
    if not errors and switched_on and not str(config.get("text", "")).strip():
        errors.append(f"{path}.text: a required disclosure needs the line to look for")
    return errors


def compile_disclosure(config: dict[str, Any] | None) -> DisclosureRule | None:
    """The rule of a validated configuration, or None when no channel requires it."""
    if not config:
        return None
    rule = DisclosureRule(text=config.get("text", "").strip(), required=config.get("required", False),
                          channels=dict(config.get("channels", {})), severity=config.get("severity", BLOCKING))
    return rule if rule.required or any(rule.channels.values()) else None


def missing_disclosure(text: str, *, channel: str, rule: DisclosureRule | None) -> list[FindingData]:
    if rule is None or not rule.applies_to(channel) or normalise(rule.text) in normalise(text):
        return []
    return [FindingData(category=CATEGORY, severity=rule.severity,
                        message=f"The {channel} channel requires a visible AI disclosure: “{rule.text}”",
                        suggestion=rule.text)]
