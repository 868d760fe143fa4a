"""The text detectors behind `governance.policies`, and the schema of their configuration.

A rule-set version is configured by three JSON fields. All of them may be empty.

`banned_terms`: a list of `{"term": "best in class", "replacement": "well made", "severity": "blocking"}`.
    `term` is required. Matching ignores case and treats any run of whitespace as one space.
    It only matches whole words. `replacement` is optional. `severity` defaults to blocking.

`disclaimers`: `{channel: text}`. Drafts for that channel must contain the text, ignoring case
    and whitespace. Channels are the values of `governance.models.Channel`.

`rules`: a dict. Every key is optional, and a missing key means the default shown here:

    {
      "personal_data": {
        "enabled": true,              # emails, phones, payment cards, IBANs, street addresses
        "severity": "blocking",
        "region": "US",               # for phone numbers written without +country code
        "kinds": ["email", "phone", "payment_card", "iban", "address"],
        "allow": []                   # the brand's own contact details, e.g. "hello@brand.com"
      },
      "claims": {
        "enabled": true,              # claims that need a source
        "severity": "warning",
        "kinds": ["superlative", "figure", "health", "financial"]
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

`instruction_like(text)` is not configured here. It is meant for retrieved source text, not
for drafts.
"""
from __future__ import annotations

import bisect
import json
import re
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import phonenumbers
import pyphen
from django.core.exceptions import ValidationError
from stdnum import iban as stdnum_iban
from stdnum import luhn

from governance.models import Channel, Finding

SEVERITIES: tuple[str, ...] = tuple(Finding.Severity.values)
BLOCKING, WARNING = Finding.Severity.BLOCKING.value, Finding.Severity.WARNING.value
PERSONAL_DATA_KINDS = ("email", "phone", "payment_card", "iban", "address")
CLAIM_KINDS = ("superlative", "figure", "health", "financial")
MAX_PATTERN_LENGTH = 1000
_CATEGORY = re.compile(r"[a-z][a-z0-9_]{0,39}")  # Finding.category is 40 characters


@dataclass(frozen=True)
class FindingData:
    category: str
    severity: str
    message: str
    start: int | None = None
    end: int | None = None
    text: str = ""
    suggestion: str = ""


def _hit(text: str, start: int, end: int, *, category: str, severity: str, message: str,
         suggestion: str = "") -> FindingData:
    # Every span finding takes its text from the span itself, so text[start:end] == finding.text.
    return FindingData(category=category, severity=severity, message=message, start=start, end=end,
                       text=text[start:end], suggestion=suggestion)


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _fold(text: str) -> str:
    """Lower-case ASCII letters only, so every offset stays that of `text`.

    The fixed patterns are written in lower case and run on this without IGNORECASE. Then
    the regex engine can skip an alternative by its first letter, which is most of the
    speed-up on long texts.
    """
    return text.translate(_ASCII_LOWER)


# --- personal data -------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}"
    r"(?![\w-])"
)
# Contiguous digits, 4-4-4-x groups (Visa, Mastercard…) or 4-6-x groups (Amex, Diners). The
# separator must be the same all through.
_CARD = re.compile(
    r"(?<![\w-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5})(?![\w-])"
)
# Every card network issues numbers that start with 2 to 6. Requiring that halves the share of
# order numbers and other digit runs that pass Luhn by chance.
_CARD_FIRST_DIGITS = frozenset("23456")
_IBAN_HEAD_BEFORE = re.compile(r"[A-Z]{2}\d{2} ?$")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")
# The phone matcher is thorough but slow, so it only reads the places that contain 7 or more
# digits close together, along with some text on each side.
_PHONE_CANDIDATE = re.compile(r"\+?\(?\d(?:[\s().\-/]{0,3}\d){6,}")
_PHONE_CONTEXT = 16
_ID_JOINERS = frozenset("-#/_")
_LETTER = r"[^\W\d_]"
_UPPER = r"[A-ZÀ-ÖØ-Þ]"
_STREET_NAME_WORD = rf"(?:{_UPPER}{_LETTER}*(?:['’.-]{_LETTER}+)*\.?|\d{{1,3}}(?:st|nd|rd|th))"
# No "Dr" in the list: after a number it is usually a doctor ("at 3 PM Dr Smith"), not a drive.
_STREET_SUFFIX = (
    r"(?i:street|st|avenue|ave|road|rd|lane|ln|boulevard|blvd|drive|way|court|ct|place|pl|terrace|square|sq"
    r"|parkway|pkwy|highway|hwy|crescent|close|row|straße|strasse|str|weg|platz|gasse|allee)"
)
_ADDRESS_NUMBER_FIRST = re.compile(
    rf"(?<![\w.,$€£])\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}})?[ \t]+"
    rf"(?:{_STREET_NAME_WORD}[ \t]+){{1,4}}{_STREET_SUFFIX}(?!\w)"
)
_HOUSE_NUMBER_AFTER = r"[ \t]+\d{1,4}[A-Za-z]?(?![\w%]|[.,]\d)"
_ADDRESS_NUMBER_LAST = re.compile(
    # "Hauptstraße 12", "Kerkstraat 5", "Berliner Straße 5", "Am Alten Weg 3"
    rf"(?<!\w)(?:{_UPPER}{_LETTER}*(?i:straße|strasse|str\.|weg|platz|gasse|allee|straat|laan|plein|gracht)"
    rf"|(?:{_UPPER}{_LETTER}*[ \t]+){{1,3}}(?i:straße|strasse|str\.|weg|platz|gasse|allee|straat|laan|plein))"
    rf"{_HOUSE_NUMBER_AFTER}"
)

_PERSONAL_DATA_LABELS = {
    "iban": "a bank account number (IBAN)",
    "payment_card": "a payment card number",
    "email": "an email address",
    "phone": "a phone number",
    "address": "a street address",
}


def _alnum(value: str) -> str:
    return re.sub(r"[\W_]+", "", value).casefold()


def _phone_key(value: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _emails(text: str) -> Iterator[tuple[int, int]]:
    for m in _EMAIL.finditer(text):
        yield m.span()


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if not 13 <= len(digits) <= 19 or digits[0] not in _CARD_FIRST_DIGITS or not luhn.is_valid(digits):
            continue
        if _IBAN_HEAD_BEFORE.search(text, max(0, m.start() - 5), m.start()):
            continue  # the account part of an IBAN, which the IBAN check judges
        yield m.span()


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for m in _IBAN.finditer(text):
        # The pattern may run on into a following upper-case word ("… 7034 THEN"). Drop groups from
        # the end until what is left is valid or too short to be an IBAN.
        parts = m.group(0).split(" ")
        while len("".join(parts)) >= 15:
            candidate = " ".join(parts)
            if stdnum_iban.is_valid(candidate):
                yield m.start(), m.start() + len(candidate)
                break
            parts.pop()


def _phones(text: str, region: str) -> Iterator[tuple[int, int, str]]:
    windows: list[list[int]] = []
    for m in _PHONE_CANDIDATE.finditer(text):
        start, end = max(0, m.start() - _PHONE_CONTEXT), min(len(text), m.end() + _PHONE_CONTEXT)
        if windows and start <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    for start, end in windows:
        for match in phonenumbers.PhoneNumberMatcher(text[start:end], region):
            first = start + match.start
            if first and text[first - 1] in _ID_JOINERS:
                continue  # part of a reference such as "ORD-2024-000123" or "#4155552671"
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            yield first, start + match.end, e164


def _addresses(text: str) -> list[tuple[int, int]]:
    return sorted(m.span() for pattern in (_ADDRESS_NUMBER_FIRST, _ADDRESS_NUMBER_LAST)
                  for m in pattern.finditer(text))


def find_personal_data(text: str, *, region: str = "US", severity: str = BLOCKING,
                       kinds: Iterable[str] = PERSONAL_DATA_KINDS, allow: Iterable[str] = ()) -> list[FindingData]:
    """Emails, phone numbers, Luhn-valid card numbers, mod-97-valid IBANs and street addresses.

    Where two kinds overlap, the first in the order IBAN, card, email, phone, address wins.
    That keeps the digits of an IBAN from also being reported as a phone number.
    """
    kinds = set(kinds)
    allowed_text = {_alnum(a) for a in allow}
    allowed_phones = {key for a in allow if (key := _phone_key(a, region))}
    candidates: list[tuple[str, int, int]] = []
    if "iban" in kinds:
        candidates += [("iban", s, e) for s, e in _ibans(text)]
    if "payment_card" in kinds:
        candidates += [("payment_card", s, e) for s, e in _cards(text)]
    if "email" in kinds:
        candidates += [("email", s, e) for s, e in _emails(text)]
    if "phone" in kinds:
        candidates += [("phone", s, e) for s, e, key in _phones(text, region) if key not in allowed_phones]
    if "address" in kinds:
        candidates += [("address", s, e) for s, e in _addresses(text)]
    starts: list[int] = []  # of the spans taken so far, which never overlap: sorted by start,
    ends: list[int] = []  # they are sorted by end too
    findings = []
    for kind, start, end in candidates:
        i = bisect.bisect_right(starts, start)
        if (i and ends[i - 1] > start) or (i < len(starts) and starts[i] < end):
            continue
        if _alnum(text[start:end]) in allowed_text:
            continue
        starts.insert(i, start)
        ends.insert(i, end)
        findings.append(_hit(text, start, end, category="personal_data", severity=severity,
                             message=f"Personal data: {_PERSONAL_DATA_LABELS[kind]}."))
    return findings


# --- claims that need a source -------------------------------------------------------------------

_NUMBER_WORD = r"(?:two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|a\s+hundred|hundred)"
_CLAIM_PATTERNS: dict[str, str] = {
    "superlative": (
        r"(?:world|america|europe|country)['’]?s\s+(?:leading|first|best|largest|biggest|most\s+\w+)"
        r"|best[- ]in[- ]class|best[- ]selling"
        r"|(?<!all the )(?<!at )(?<!your )best(?![\s-]+(?:regards|wishes|before|practices?|of\s+luck)\b)"
        r"|fastest|quickest|cheapest|lowest[- ]priced?|greatest|largest|biggest|finest|strongest|safest|smartest"
        r"|healthiest|top[- ]rated|highest[- ]rated|number[- ]one|no\.\s?1(?!\d)|#1(?!\d)"
        r"|most\s+(?:popular|trusted|loved|advanced|reliable|effective|powerful|innovative|affordable"
        r"|comprehensive|secure|accurate|complete|sustainable|delicious)"
        r"|world[- ]class|(?:industry|market)[- ]leading|leading\s+(?:provider|brand|supplier|manufacturer|company)"
        r"|unbeatable|unmatched|unrivall?ed|unparall?eled|second\s+to\s+none"
    ),
    "figure": (
        r"\d+(?:[.,]\d+)?\s?(?:%|percent\b|per\s+cent\b)"
        r"|\d+(?:[.,]\d+)?[x×](?:\s+(?:more|less|\w+er)\b)?"  # "2x faster", not "2 x 250 g"
        rf"|(?:\d+(?:[.,]\d+)?|{_NUMBER_WORD})\s+times\s+(?:as\s+\w+|more|less|the|\w+er)\b"
        r"|twice\s+as\s+\w+"
        r"|\d+\s+out\s+of\s+(?:every\s+)?\d+"
        r"|(?:\d{1,3}(?:[,.]\d{3})+|\d+(?:[.,]\d+)?(?:\s?(?:k|m|bn|thousand|million|billion))?)\+?"
        r"\s+(?:(?:happy|satisfied|loyal|active|paying|monthly|daily)\s+)?"
        r"(?:customers|clients|users|people|downloads|members|subscribers|companies|businesses|brands|installs"
        r"|reviews|readers|followers|patients|students|teams|orders|sales|cafés|cafes|stores|countries)\b"
    ),
    "health": (
        r"cures?|cure\s+for|cured\s+(?:of|my|his|her|their)|heals?|healing\s+(?:properties|powers?|benefits)"
        r"|prevents?\s+(?:\w+\s+){0,2}(?:diseases?|cancer|illness(?:es)?|infections?|colds?|flu|diabetes|dementia"
        r"|alzheimer['’]?s|strokes?|heart\s+attacks?)"
        r"|(?:boosts?|strengthens?|supports?)\s+(?:your\s+|the\s+)?immun(?:e\s+system|ity)|immune[- ]boosting"
        r"|clinically\s+(?:proven|tested|shown|validated)|scientifically\s+proven"
        r"|detox(?:es|ify|ifies|ifying|ification)?|cleanses?\s+(?:your\s+|the\s+)?(?:body|liver|blood|system|colon)"
        r"|treats?\s+(?:\w+\s+){0,2}(?:diseases?|cancer|illness(?:es)?|infections?|depression|anxiety|diabetes"
        r"|arthritis|insomnia)"
        r"|fights?\s+(?:cancer|diseases?|infections?|inflammation|aging|ageing)"
        r"|anti[- ]?(?:aging|ageing|inflammatory|cancer)|reduces?\s+(?:the\s+|your\s+)?risk\s+of"
        r"|lowers?\s+(?:your\s+)?(?:cholesterol|blood\s+pressure|blood\s+sugar)|burns?\s+(?:belly\s+)?fat"
        r"|weight\s+loss|lose\s+weight|doctor[- ]recommended|miracle\s+(?:cure|remedy)"
    ),
    "financial": (
        r"guaranteed\s+(?:returns?|income|profits?|gains?|payouts?|interest|yields?|earnings)"
        r"|risk[- ]free|no-risk|zero[- ]risk"
        r"|double\s+your\s+(?:money|investment|income|savings)|passive\s+income|get\s+rich(?:\s+quick)?"
        r"|financial\s+freedom|(?:high|huge|massive)\s+returns?|(?:can['’]?t|cannot)\s+lose"
        r"|earn\s+(?:[$€£]\d[\d,.]*[km]?|\d[\d,.]*\s?(?:dollars|euros|pounds|usd|eur|gbp))"
        r"(?:\s+(?:a|per)\s+(?:day|week|month|year))?"
        r"|make\s+money\s+(?:fast|online|from\s+home)"
        r"|beat\s+the\s+market|returns?\s+of\s+(?:up\s+to\s+)?\d+(?:[.,]\d+)?\s?%"
    ),
}
_CLAIMS = {
    kind: re.compile(rf"(?<![\w#$€£])(?:{pattern})(?!\w)") for kind, pattern in _CLAIM_PATTERNS.items()
}
_CLAIM_LABELS = {"superlative": "Superlative", "figure": "Numeric", "health": "Health", "financial": "Financial"}


def find_claims(text: str, *, severity: str = WARNING, kinds: Iterable[str] = CLAIM_KINDS,
                folded: str | None = None) -> list[FindingData]:
    """Superlatives, figures, and health and financial claims: each needs a source."""
    folded = _fold(text) if folded is None else folded
    return [
        _hit(text, *m.span(), category="claim", severity=severity,
             message=f"{_CLAIM_LABELS[kind]} claim needs a source")
        for kind in kinds
        for m in _CLAIMS[kind].finditer(folded)
    ]


# --- length and reading level ------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:['’.,-][^\W_]+)*")
_LETTER_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# Ends of sentences, and the ends of lines that stand alone without a full stop, such as
# blank-line paragraphs, Markdown headings and list items.
_SENTENCE_BREAK = re.compile(
    r"[.!?…]+[\"'”’)\]]*(?=\s|$)|\n[ \t]*\n|\n(?=[ \t]*(?:#|[-*+•][ \t]|\d+[.)][ \t]))"
)


def count_words(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))


@cache
def _hyphenator() -> pyphen.Pyphen:
    return pyphen.Pyphen(lang="en_US")


@lru_cache(maxsize=65536)
def _syllables(word: str) -> int:
    return len(_hyphenator().positions(word)) + 1


def flesch_kincaid_grade(text: str) -> float | None:
    """The Flesch–Kincaid grade level, or None for text without words.

    Syllables are counted as hyphenation points plus one. That undercounts a little
    ("ev-ery"), but it is deterministic and needs no data from the network.
    """
    words = _LETTER_WORD.findall(text)
    if not words:
        return None
    sentences = max(1, sum(1 for part in _SENTENCE_BREAK.split(text) if _LETTER_WORD.search(part)))
    syllables = sum(_syllables(word.lower()) for word in words)
    return 0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59


# --- prompt injection ------------------------------------------------------------------------------

_INSTRUCTION_PATTERNS = (
    r"ignore\s+(?:(?:all|any|the|your|of|these|those)\s+)*(?:previous|prior|above|earlier|preceding|former|system)"
    r"\s+(?:instructions?|prompts?|directions?|rules|messages?|context)",
    r"disregard\s+(?:(?:all|any|the|your)\s+)*(?:above|previous|prior|earlier|preceding|instructions|system\s+prompt)",
    r"forget\s+(?:(?:all|any|your|everything)\s+)+(?:(?:previous|prior|above|earlier)\s+)?"
    r"(?:instructions|you\s+(?:were|have\s+been)\s+told)"
    r"|forget\s+(?:the\s+)?(?:previous|prior|above|earlier)\s+instructions",
    r"you\s+are\s+now\s+(?:an?\s+(?:\w+\s+){0,2}(?:assistant|ai|bot|model|chatbot|agent|expert|hacker)\b"
    r"|dan\b|no\s+longer\b|free\s+(?:of|from)\b|unrestricted\b|in\s+(?:\w+\s+)?mode\b|jailbroken\b)",
    r"from\s+now\s+on,?\s+you\s+(?:are|will|must|should)\b",
    r"system\s+prompt",
    # "Act as a pirate." and "you must act as…", not "the lid will act as a seal".
    r"(?:(?:^|(?<=[.!?:>\n]))[ \t]*|\b(?:you\s+(?:must|should|will|shall)|please|now)\s+)"
    r"act\s+as\s+(?:if\b|an?\b|the\b|my\b|your\b)",
    r"pretend\s+(?:to\s+be|you\s+are|that\s+you)",
    r"(?:do\s+not|don['’]?t|never)\s+(?:tell|inform|reveal\s+(?:this\s+|it\s+)?to|mention\s+(?:this\s+|it\s+)?to"
    r"|let\s+on\s+to)\s+the\s+user",
    # "Reveal your instructions", "print the system prompt", not "show the cooking instructions".
    r"(?:reveal|show|print|repeat|output|display|leak)\s+(?:me\s+)?"
    r"(?:your\s+(?:\w+\s+)?(?:instructions|prompt|system\s+message|guidelines|rules)"
    r"|the\s+(?:system|hidden|initial|original|secret|developer)\s+(?:instructions|prompt|message))",
    r"new\s+instructions?\s*:",
    r"override\s+(?:your|the|all|any)\s+(?:\w+\s+)?(?:instructions|rules|guidelines|safety)",
    r"<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>",
    r"\[/?inst\]|<</?sys>>",
    r"^[ \t]*#{2,}[ \t]*(?:instruction|system|response)s?\b",
    r"jailbreak|developer\s+mode|dan\s+mode",
)
_INSTRUCTION_LIKE = re.compile(
    "|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.MULTILINE
)


_INJECTION_MESSAGE = "Instruction-like text (possible prompt injection); the model must not follow it."


def instruction_like(text: str, *, severity: str = WARNING) -> list[FindingData]:
    """Text that gives orders to a model, such as "ignore all previous instructions".

    Meant for retrieved or ingested source text. It flags the text for the editor and does not
    remove it. The prompt fences sources as untrusted in any case.
    """
    findings = []
    for m in _INSTRUCTION_LIKE.finditer(_fold(text)):
        start, end = m.span()
        start += len(m.group(0)) - len(m.group(0).lstrip())  # the "act as" pattern may begin at spaces
        findings.append(
            _hit(text, start, end, category="prompt_injection", severity=severity, message=_INJECTION_MESSAGE)
        )
    return findings


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
_BANNED_KEYS = {"term": _check_string, "replacement": _check_string, "severity": _check_severity}


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


def _compile_pattern(entry: dict[str, Any]) -> re.Pattern[str]:
    flags = re.MULTILINE | (re.IGNORECASE if entry.get("ignore_case", True) else 0)
    return re.compile(entry["pattern"], flags)


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
    if not _CATEGORY.fullmatch(category):
        errors.append(f"{path}.category: {_show(category)} must be lower_snake_case, at most 40 characters")
    if errors:
        return errors
    pattern = entry["pattern"]
    if len(pattern) > MAX_PATTERN_LENGTH:
        return [f"{path}.pattern: longer than {MAX_PATTERN_LENGTH} characters"]
    try:
        compiled = _compile_pattern(entry)
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
        elif key in _SECTIONS:
            if isinstance(value, dict):
                errors += _object_errors(f"rules.{key}", value, _SECTIONS[key])
            else:
                errors.append(f"rules.{key}: must be an object, not {_json_type(value)}")
        else:
            errors.append(_unknown_key("rules", key, [*_SECTIONS, "patterns"]))
    return errors


def validate_rules(banned_terms: Any, disclaimers: Any, rules: Any) -> None:
    """Raise ValidationError with one message for each bad entry, each naming where it is."""
    errors = _banned_errors(banned_terms) + _disclaimer_errors(disclaimers) + _rules_errors(rules)
    if errors:
        raise ValidationError(errors)


# --- compiled rule books ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _BannedTerm:
    term: str
    replacement: str
    severity: str


@dataclass(frozen=True)
class _Limit:
    default: float | None
    channels: dict[str, float | None]
    severity: str

    def for_channel(self, channel: str) -> float | None:
        return self.channels.get(channel, self.default)


@dataclass(frozen=True)
class _CustomPattern:
    regex: re.Pattern[str]
    category: str
    message: str
    severity: str
    suggestion: str


@dataclass(frozen=True)
class RuleBook:
    """A rule-set version's configuration, validated and compiled once, ready to check text."""

    banned: dict[str, _BannedTerm]  # by _term_key
    banned_regex: re.Pattern[str] | None  # runs on _fold(text)
    disclaimers: dict[str, str]
    personal_data: dict[str, Any] | None  # keyword arguments of find_personal_data, or None when off
    claims: dict[str, Any] | None  # keyword arguments of find_claims, or None when off
    length: _Limit
    reading_level: _Limit
    patterns: tuple[_CustomPattern, ...]

    def check(self, text: str, *, channel: str) -> list[FindingData]:
        folded = _fold(text)
        findings = self._banned_terms(text, folded) + self._missing_disclaimer(text, channel)
        if self.personal_data is not None:
            findings += find_personal_data(text, **self.personal_data)
        if self.claims is not None:
            findings += find_claims(text, folded=folded, **self.claims)
        findings += self._length(text, channel) + self._reading_level(text, channel) + self._custom(text)
        findings.sort(key=lambda f: (f.start is None, f.start or 0, f.end or 0))
        return findings

    def _banned_terms(self, text: str, folded: str) -> list[FindingData]:
        if self.banned_regex is None:
            return []
        findings = []
        for m in self.banned_regex.finditer(folded):
            entry = self.banned[_term_key(text[m.start():m.end()])]
            message = f"“{m.group(0)}” is a banned term" + (
                f"; use “{entry.replacement}” instead." if entry.replacement else "."
            )
            findings.append(_hit(text, *m.span(), category="banned_term", severity=entry.severity,
                                 message=message, suggestion=entry.replacement))
        return findings

    def _missing_disclaimer(self, text: str, channel: str) -> list[FindingData]:
        disclaimer = self.disclaimers.get(channel, "").strip()
        if not disclaimer or _normalise(disclaimer) in _normalise(text):
            return []
        return [FindingData(category="missing_disclaimer", severity=BLOCKING,
                            message=f"The {channel} channel requires this disclaimer: “{disclaimer}”",
                            suggestion=disclaimer)]

    def _length(self, text: str, channel: str) -> list[FindingData]:
        limit = self.length.for_channel(channel)
        if limit is None:
            return []
        words = count_words(text)
        if words <= limit:
            return []
        return [FindingData(category="length", severity=self.length.severity,
                            message=f"The text has {words:,} words; the limit is {int(limit):,}.")]

    def _reading_level(self, text: str, channel: str) -> list[FindingData]:
        limit = self.reading_level.for_channel(channel)
        grade = None if limit is None else flesch_kincaid_grade(text)
        if grade is None or grade <= limit:
            return []
        return [FindingData(category="reading_level", severity=self.reading_level.severity,
                            message=f"The reading level is grade {grade:.1f}; the limit is {limit:g}. "
                                    "Shorter sentences and shorter words bring it down.")]

    def _custom(self, text: str) -> list[FindingData]:
        return [
            _hit(text, *m.span(), category=p.category, severity=p.severity, message=p.message,
                 suggestion=p.suggestion)
            for p in self.patterns
            for m in p.regex.finditer(text)
            if m.end() > m.start()
        ]


def _term_key(term: str) -> str:
    return " ".join(term.split()).casefold()


def _char_pattern(char: str) -> str:
    # Matches `char` in either case in _fold(text), where only ASCII letters were lowered.
    if char.isascii():
        return re.escape(char.lower())
    lower, upper = char.lower(), char.upper()
    if lower != upper and len(lower) == len(upper) == 1:
        return f"[{re.escape(lower)}{re.escape(upper)}]"
    return re.escape(char)


def _phrase(term: str) -> str:
    # Any run of whitespace in the text matches a space in the term.
    return r"\s+".join("".join(_char_pattern(c) for c in word) for word in term.split())


def _banned_regex(terms: Iterable[str]) -> re.Pattern[str] | None:
    # One pass for all terms, with no groups: the engine then skips most alternatives by their
    # first letter. The longest term comes first, so a banned phrase wins over a banned word in it.
    terms = sorted(terms, key=len, reverse=True)
    if not terms:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(_phrase(t) for t in terms)})(?!\w)")


def _limit(config: dict[str, Any], key: str) -> _Limit:
    return _Limit(default=config.get(key), channels=dict(config.get("channels", {})),
                  severity=config.get("severity", WARNING))


@lru_cache(maxsize=128)
def _compile(key: str) -> RuleBook:
    banned_terms, disclaimers, rules = json.loads(key)
    validate_rules(banned_terms, disclaimers, rules)
    banned_terms, disclaimers, rules = banned_terms or [], disclaimers or {}, rules or {}
    banned: dict[str, _BannedTerm] = {}
    for e in banned_terms:
        term = e["term"].strip()
        banned.setdefault(_term_key(term), _BannedTerm(
            term=term, replacement=e.get("replacement", ""), severity=e.get("severity", BLOCKING)
        ))
    personal = rules.get("personal_data", {})
    claims = rules.get("claims", {})
    return RuleBook(
        banned=banned,
        banned_regex=_banned_regex(entry.term for entry in banned.values()),
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
            _CustomPattern(regex=_compile_pattern(p), category=p.get("category", "custom"), message=p["message"],
                           severity=p.get("severity", WARNING), suggestion=p.get("suggestion", ""))
            for p in rules.get("patterns", [])
        ),
    )


def compile_rules(banned_terms: Any, disclaimers: Any, rules: Any) -> RuleBook:
    """Validate and compile a configuration. The result is cached.

    The cache key is the configuration itself, and versions are immutable, so each version
    compiles once per process. An unsaved configuration does not need a primary key to be cached.
    Raises ValidationError like `validate_rules`.
    """
    return _compile(json.dumps([banned_terms, disclaimers, rules], sort_keys=True, ensure_ascii=False, default=str))
