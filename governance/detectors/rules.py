"""The configuration of the text detectors behind `governance.policies`: its schema, its
validation, and its compiled form (`RuleBook`), which runs each detector family of this package.

A rule-set version is configured by three JSON fields. All of them may be empty.

`banned_terms`: a list of `{"term": "best in class", "replacement": "well made", "severity": "blocking"}`.
    `term` is required. Matching ignores case and treats any run of whitespace as one space.
    It only matches whole words. `replacement` is optional. `severity` defaults to blocking.
    `"inflections": true` also matches the term's inflected forms (same Snowball stems: "guaranteed"
    for "guarantee"); it defaults to true for a single word and false for a phrase.

`disclaimers`: `{channel: text}`. Drafts for that channel must contain the text, ignoring case
    and whitespace. Channels are the values of `governance.models.Channel`.

`rules`: a dict. Every key is optional, and a missing key means the default shown here:

    {
      "personal_data": {
        "enabled": true,              # emails, phones, payment cards, IBANs, street addresses
        "severity": "blocking",
        "region": "US",               # for phone numbers written without +country code; the
                                      # brand's own regions (Brand.phone_regions) and the common
                                      # ones (GB, DE, FR, US, …) are tried too
        "kinds": ["email", "phone", "payment_card", "iban", "address"],
        "allow": []                   # the brand's own contact details, e.g. "hello@brand.com"
      },
      "claims": {
        "enabled": true,              # claims that need a source
        "severity": "warning",
        "kinds": ["superlative", "figure", "health", "financial",
                  "majority", "authority", "scientific", "absolute"]
      },
      "length": {                     # off unless max_words or a channel limit is set
        "max_words": null,            # a positive integer
        "channels": {},               # {channel: positive integer or null}; overrides max_words
        "severity": "warning"
      },
      "reading_level": {              # Flesch–Kincaid grade; off unless a limit is set
        "max_grade": null,            # a positive number
        "channels": {},               # {channel: positive number or null}; overrides max_grade
        "severity": "warning"
      },
      "disclosure": {                 # a visible AI disclosure line; off unless required somewhere
        "text": "",                   # the line to look for (needed when on)
        "required": false,            # the brand's rule: every channel
        "channels": {},               # {channel: true/false}; overrides "required"
        "severity": "blocking"        # see governance.detectors.disclosure
      },
      "patterns": [                   # custom regular expressions (Python syntax)
        {"pattern": "regex", "message": "What is wrong", "category": "custom",
         "severity": "warning", "suggestion": "", "ignore_case": true}
      ]
    }

Severities are "info", "warning" and "blocking". `validate_rules` rejects unknown keys, so a
typo cannot quietly turn a rule off. In `patterns`, only "pattern" and "message" are required.
A custom category must be lower_snake_case, so gates can select it through
`Gate.finding_categories`. Custom patterns run with MULTILINE, so ^ and $ match at line ends.
An invalid configuration makes checking raise ValidationError; no check is skipped without notice.

Card numbers are reported only when they pass Luhn and start with 2–6, as every card
network's numbers do. IBANs are reported only when they pass mod-97. Phone numbers must be
valid for their region, and are not reported when joined to a reference ("ORD-2024-000123").

`governance.detectors.injection.instruction_like(text)` is not configured here. It is meant for retrieved source text, not
for drafts.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError

from governance.detectors.banned_terms import BannedTerm, banned_regex, find_banned_terms, term_key
from governance.detectors.claims import CLAIM_KINDS, find_claims
from governance.detectors.disclaimers import missing_disclaimer
from governance.detectors.disclosure import DisclosureRule, compile_disclosure, disclosure_errors, missing_disclosure
from governance.detectors.findings import BLOCKING, SEVERITIES, WARNING, FindingData, fold
from governance.detectors.patterns import CATEGORY, MAX_PATTERN_LENGTH, CustomPattern, compile_pattern, find_custom
from governance.detectors.personal_data import PERSONAL_DATA_KINDS, find_personal_data
from governance.detectors.readability import Limit, too_hard, too_long
from governance.models import Channel

# --- validation ---------------------------------------------------------------------------------

def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _check_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, not {_json_type(value)}"


def _check_severity(value: Any) -> str | None:
    if value in SEVERITIES:
        return None
    return f"unknown severity {_show(value)}; use one of {', '.join(SEVERITIES)}"


def _check_region(value: Any) -> str | None:
    if isinstance(value, str) and value in phonenumbers.SUPPORTED_REGIONS:
        return None
    return f"unknown region {_show(value)}; use a two-letter country code such as \"US\" or \"DE\""


def _check_string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be a string, not {_json_type(value)}"


def _check_string_list(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return None
    return "must be a list of strings"


def _check_kinds(known: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return f"must be a list, not {_json_type(value)}"
        unknown = [v for v in value if v not in known]
        if unknown:
            return f"unknown kind {_show(unknown[0])}; use any of {', '.join(known)}"
        return None
    return check


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_positive(*, whole: bool) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        ok = _is_number(value) and value > 0 and (not whole or float(value).is_integer())
        kind = "a positive whole number" if whole else "a positive number"
        return None if ok else f"must be {kind} or null, not {_show(value)}"
    return check


def _unknown_channel(channel: Any) -> str:
    return f"unknown channel {_show(channel)}; channels are {', '.join(Channel.values)}"


def _check_channel_limits(*, whole: bool) -> Callable[[Any], str | None]:
    positive = _check_positive(whole=whole)

    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"must be an object of channel: limit, not {_json_type(value)}"
        for channel, limit in value.items():
            if channel not in Channel.values:
                return _unknown_channel(channel)
            if error := positive(limit):
                return f"{channel} {error}"
        return None
    return check


_SECTIONS: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "personal_data": {
        "enabled": _check_bool, "severity": _check_severity, "region": _check_region,
        "kinds": _check_kinds(PERSONAL_DATA_KINDS), "allow": _check_string_list,
    },
    "claims": {"enabled": _check_bool, "severity": _check_severity, "kinds": _check_kinds(CLAIM_KINDS)},
    "length": {
        "max_words": _check_positive(whole=True), "channels": _check_channel_limits(whole=True),
        "severity": _check_severity,
    },
    "reading_level": {
        "max_grade": _check_positive(whole=False), "channels": _check_channel_limits(whole=False),
        "severity": _check_severity,
    },
}
_PATTERN_KEYS = {
    "pattern": _check_string, "message": _check_string, "category": _check_string, "severity": _check_severity,
    "suggestion": _check_string, "ignore_case": _check_bool,
}
_BANNED_KEYS = {"term": _check_string, "replacement": _check_string, "severity": _check_severity,
                "inflections": _check_bool}


def _unknown_key(path: str, key: Any, known: Iterable[str]) -> str:
    return f"{path}: unknown key {_show(key)}; known keys are {', '.join(known)}"


def _object_errors(path: str, value: dict[str, Any], checks: dict[str, Callable[[Any], str | None]]) -> list[str]:
    errors = []
    for key, item in value.items():
        if key not in checks:
            errors.append(_unknown_key(path, key, checks))
        elif error := checks[key](item):
            errors.append(f"{path}.{key}: {error}")
    return errors


def _pattern_errors(path: str, entry: Any) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{path}: must be an object with \"pattern\" and \"message\", not {_json_type(entry)}"]
    errors = _object_errors(path, entry, _PATTERN_KEYS)
    if errors:
        return errors
    for required in ("pattern", "message"):
        if not (entry.get(required) or "").strip():
            errors.append(f"{path}: \"{required}\" is required")
    category = entry.get("category", "custom")
    if not CATEGORY.fullmatch(category):
        errors.append(f"{path}.category: {_show(category)} must be lower_snake_case, at most 40 characters")
    if errors:
        return errors
    pattern = entry["pattern"]
    if len(pattern) > MAX_PATTERN_LENGTH:
        return [f"{path}.pattern: longer than {MAX_PATTERN_LENGTH} characters"]
    try:
        compiled = compile_pattern(entry)
    except re.error as exc:
        return [f"{path}.pattern: invalid regular expression {_show(pattern)}: {exc}"]
    if compiled.fullmatch(""):
        return [f"{path}.pattern: {_show(pattern)} matches empty text, so it would flag nothing useful"]
    return []


def _banned_errors(banned_terms: Any) -> list[str]:
    if banned_terms is None:
        return []
    if not isinstance(banned_terms, list):
        return [f"banned_terms: must be a list, not {_json_type(banned_terms)}"]
    errors = []
    for i, entry in enumerate(banned_terms):
        path = f"banned_terms[{i}]"
        if not isinstance(entry, dict):
            errors.append(f"{path}: must be an object like {{\"term\": …, \"replacement\": …}}, "
                          f"not {_json_type(entry)} {_show(entry)}")
            continue
        entry_errors = _object_errors(path, entry, _BANNED_KEYS)
        if not entry_errors and not (entry.get("term") or "").strip():
            entry_errors.append(f"{path}: \"term\" is required and must not be blank")
        errors += entry_errors
    return errors


def _disclaimer_errors(disclaimers: Any) -> list[str]:
    if disclaimers is None:
        return []
    if not isinstance(disclaimers, dict):
        return [f"disclaimers: must be an object of channel: text, not {_json_type(disclaimers)}"]
    errors = []
    for channel, text in disclaimers.items():
        if channel not in Channel.values:
            errors.append(f"disclaimers: {_unknown_channel(channel)}")
        elif not isinstance(text, str):
            errors.append(f"disclaimers.{channel}: must be a string, not {_json_type(text)}")
    return errors


def _rules_errors(rules: Any) -> list[str]:
    if rules is None:
        return []
    if not isinstance(rules, dict):
        return [f"rules: must be an object, not {_json_type(rules)}"]
    errors = []
    for key, value in rules.items():
        if key == "patterns":
            if not isinstance(value, list):
                errors.append(f"rules.patterns: must be a list, not {_json_type(value)}")
                continue
            for i, entry in enumerate(value):
                errors += _pattern_errors(f"rules.patterns[{i}]", entry)
        elif key == "disclosure":
            errors += disclosure_errors(value)
        elif key in _SECTIONS:
            if isinstance(value, dict):
                errors += _object_errors(f"rules.{key}", value, _SECTIONS[key])
            else:
                errors.append(f"rules.{key}: must be an object, not {_json_type(value)}")
        else:
            errors.append(_unknown_key("rules", key, [*_SECTIONS, "disclosure", "patterns"]))
    return errors


def validate_rules(banned_terms: Any, disclaimers: Any, rules: Any) -> None:
    """Raise ValidationError with one message for each bad entry, each naming where it is."""
    errors = _banned_errors(banned_terms) + _disclaimer_errors(disclaimers) + _rules_errors(rules)
    if errors:
        raise ValidationError(errors)


# --- compiled rule books ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleBook:
    """A rule-set version's configuration, validated and compiled once, ready to check text."""

    banned: dict[str, BannedTerm]  # by term_key
    banned_regex: re.Pattern[str] | None  # runs on fold(text)
    disclaimers: dict[str, str]
    personal_data: dict[str, Any] | None  # keyword arguments of find_personal_data, or None when off
    claims: dict[str, Any] | None  # keyword arguments of find_claims, or None when off
    length: Limit
    reading_level: Limit
    patterns: tuple[CustomPattern, ...]
    disclosure: DisclosureRule | None = None  # None when no channel requires an AI disclosure line

    def check(self, text: str, *, channel: str, regions: Iterable[str] = (),
              sources: Iterable[str] = ()) -> list[FindingData]:
        """`regions`: the brand's phone regions; `sources`: retrieved source texts, which keep the
        claims they support quiet."""
        folded = fold(text)
        findings = find_banned_terms(text, folded=folded, banned=self.banned, regex=self.banned_regex)
        findings += missing_disclaimer(text, channel=channel, disclaimers=self.disclaimers)
        findings += missing_disclosure(text, channel=channel, rule=self.disclosure)
        if self.personal_data is not None:
            findings += find_personal_data(text, regions=tuple(regions), **self.personal_data)
        if self.claims is not None:
            findings += find_claims(text, folded=folded, sources=tuple(sources), **self.claims)
        findings += too_long(text, limit=self.length, channel=channel)
        findings += too_hard(text, limit=self.reading_level, channel=channel)
        findings += find_custom(text, self.patterns)
        findings.sort(key=lambda f: (f.start is None, f.start or 0, f.end or 0))
        return findings


def _limit(config: dict[str, Any], key: str) -> Limit:
    return Limit(default=config.get(key), channels=dict(config.get("channels", {})),
                 severity=config.get("severity", WARNING))


@lru_cache(maxsize=128)
def _compile(key: str) -> RuleBook:
    banned_terms, disclaimers, rules = json.loads(key)
    validate_rules(banned_terms, disclaimers, rules)
    banned_terms, disclaimers, rules = banned_terms or [], disclaimers or {}, rules or {}
    banned: dict[str, BannedTerm] = {}
    for e in banned_terms:
        term = e["term"].strip()
        banned.setdefault(term_key(term), BannedTerm(
            term=term, replacement=e.get("replacement", ""), severity=e.get("severity", BLOCKING),
            inflections=e.get("inflections", len(term.split()) == 1),
        ))
    personal = rules.get("personal_data", {})
    claims = rules.get("claims", {})
    return RuleBook(
        banned=banned,
        banned_regex=banned_regex(entry.term for entry in banned.values()),
        disclaimers=disclaimers,
        personal_data=None if not personal.get("enabled", True) else {
            "region": personal.get("region", "US"),
            "severity": personal.get("severity", BLOCKING),
            "kinds": tuple(personal.get("kinds", PERSONAL_DATA_KINDS)),
            "allow": tuple(personal.get("allow", ())),
        },
        claims=None if not claims.get("enabled", True) else {
            "severity": claims.get("severity", WARNING),
            "kinds": tuple(claims.get("kinds", CLAIM_KINDS)),
        },
        length=_limit(rules.get("length", {}), "max_words"),
        reading_level=_limit(rules.get("reading_level", {}), "max_grade"),
        patterns=tuple(
            CustomPattern(regex=compile_pattern(p), category=p.get("category", "custom"), message=p["message"],
                          severity=p.get("severity", WARNING), suggestion=p.get("suggestion", ""))
            for p in rules.get("patterns", [])
        ),
        disclosure=compile_disclosure(rules.get("disclosure")),
    )


def compile_rules(banned_terms: Any, disclaimers: Any, rules: Any) -> RuleBook:
    """Validate and compile a configuration. The result is cached.

    The cache key is the configuration itself, and versions are immutable, so each version
    compiles once per process. An unsaved configuration does not need a primary key to be cached.
    Raises ValidationError like `validate_rules`.
    """
    return _compile(json.dumps([banned_terms, disclaimers, rules], sort_keys=True, ensure_ascii=False, default=str))
