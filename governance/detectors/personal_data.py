"""Personal data: emails, phone numbers, payment cards, IBANs and street addresses."""
from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn

from governance.detectors.findings import BLOCKING, FindingData, hit

PERSONAL_DATA_KINDS = ("email", "phone", "payment_card", "iban", "address")

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
# Besides the rule set's region and the brand's, a national number is tried against these: a London
# or Berlin number written without +44 or +49 is still a phone number. Only valid numbers count.
COMMON_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IE", "AU", "CA", "CH", "AT", "BE")
# A number found only through a common region (not the rule set's or the brand's) must have this many
# national digits: a short one such as "020 1234" is valid somewhere, but rarely a phone number there.
MIN_FOREIGN_DIGITS = 8
# A number right after one of these words is a reference, not a phone number ("order 0161 496 0000").
_REFERENCE_BEFORE = re.compile(
    r"(?i:\b(?:ref(?:erence)?|order|invoice|ticket|tracking|serial|account|acct|customer|case|booking|isbn|"
    r"sku|model|batch|lot|version|no|number)\.?\s*(?:no\.?|number|#|:)?\s*)$"
)
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


# "logo@2x.png" is an image name (retina variants), not an address: no top-level domain is a file type.
_FILE_SUFFIXES = frozenset("png jpg jpeg gif svg webp avif pdf css js json html htm txt zip mp4 mov mp3".split())


def _emails(text: str) -> Iterator[tuple[int, int]]:
    for m in _EMAIL.finditer(text):
        if m.group(0).rsplit(".", 1)[1].casefold() not in _FILE_SUFFIXES:
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


def _phones(text: str, regions: tuple[str, ...], *, own: int) -> Iterator[tuple[int, int, str]]:
    """Each number valid in one of `regions` (tried in order; the first that finds it wins). The
    first `own` regions are the rule set's and the brand's; the others are COMMON_REGIONS."""
    windows: list[list[int]] = []
    for m in _PHONE_CANDIDATE.finditer(text):
        start, end = max(0, m.start() - _PHONE_CONTEXT), min(len(text), m.end() + _PHONE_CONTEXT)
        if windows and start <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    for start, end in windows:
        taken: list[tuple[int, int]] = []
        digit_runs = [(m.start() + start, m.end() + start) for m in _PHONE_CANDIDATE.finditer(text[start:end])]
        for i, region in enumerate(regions):
            if i >= own and all(any(a < e and s < b for s, e in taken) for a, b in digit_runs):
                break  # every run of digits here is already a number: the other regions cannot add one
            for match in phonenumbers.PhoneNumberMatcher(text[start:end], region):
                if i >= own and len(phonenumbers.national_significant_number(match.number)) < MIN_FOREIGN_DIGITS:
                    continue
                first, last = start + match.start, start + match.end
                if any(first < e and s < last for s, e in taken):
                    continue
                if first and text[first - 1] in _ID_JOINERS:
                    continue  # part of a reference such as "ORD-2024-000123" or "#4155552671"
                if _REFERENCE_BEFORE.search(text, max(0, first - 24), first):
                    continue
                taken.append((first, last))
                yield first, last, phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)


def _addresses(text: str) -> list[tuple[int, int]]:
    return sorted(m.span() for pattern in (_ADDRESS_NUMBER_FIRST, _ADDRESS_NUMBER_LAST)
                  for m in pattern.finditer(text))


def find_personal_data(text: str, *, region: str = "US", regions: Iterable[str] = (), severity: str = BLOCKING,
                       kinds: Iterable[str] = PERSONAL_DATA_KINDS, allow: Iterable[str] = ()) -> list[FindingData]:
    """Emails, phone numbers, Luhn-valid card numbers, mod-97-valid IBANs and street addresses.

    Phone numbers are tried against `region`, then the brand's `regions`, then COMMON_REGIONS;
    one is reported only when it is valid for one of them.

    Where two kinds overlap, the first in the order IBAN, card, email, phone, address wins.
    That keeps the digits of an IBAN from also being reported as a phone number.
    """
    kinds = set(kinds)
    allowed_text = {_alnum(a) for a in allow}
    own = tuple(dict.fromkeys([region, *regions]))
    tried = tuple(dict.fromkeys([*own, *COMMON_REGIONS]))
    allowed_phones = {key for a in allow for r in tried if (key := _phone_key(a, r))}
    candidates: list[tuple[str, int, int]] = []
    if "iban" in kinds:
        candidates += [("iban", s, e) for s, e in _ibans(text)]
    if "payment_card" in kinds:
        candidates += [("payment_card", s, e) for s, e in _cards(text)]
    if "email" in kinds:
        candidates += [("email", s, e) for s, e in _emails(text)]
    if "phone" in kinds:
        candidates += [("phone", s, e) for s, e, key in _phones(text, tried, own=len(own)) if key not in allowed_phones]
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
        findings.append(hit(text, start, end, category="personal_data", severity=severity,
                            message=f"Personal data: {_PERSONAL_DATA_LABELS[kind]}."))
    return findings
