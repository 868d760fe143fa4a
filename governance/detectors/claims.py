"""Claims that need a source: superlatives, figures, health and financial claims."""
from __future__ import annotations

import re
from collections.abc import Iterable

from governance.detectors.findings import WARNING, FindingData, fold, hit

CLAIM_KINDS = ("superlative", "figure", "health", "financial")

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
    folded = fold(text) if folded is None else folded
    return [
        hit(text, *m.span(), category="claim", severity=severity,
            message=f"{_CLAIM_LABELS[kind]} claim needs a source")
        for kind in kinds
        for m in _CLAIMS[kind].finditer(folded)
    ]
