"""Claims that need a source: superlatives, figures, health and financial claims, and claims put in
words rather than figures: majority ("most experts…"), authority ("recommended by dentists"),
scientific ("studies show") and absolute ("you will never lose a file").

Opinions ("we love…") match none of the patterns; an opinion marker before a majority or superlative
claim ("I think most readers…", "in our view the prettiest…") quiets it, and so does a rule about what
not to say ("we must not write that doctors recommend…"). A claim in a sentence that a retrieved
source states too (the same figures, and most of the same words, by stem) is the brand's own
sourced fact, and is not reported."""
from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache

from governance.detectors.findings import WARNING, FindingData, fold, hit
from governance.detectors.stems import words

CLAIM_KINDS = ("superlative", "figure", "health", "financial", "majority", "authority", "scientific", "absolute")

_NUMBER_WORD = r"(?:two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|a\s+hundred|hundred)"
_PEOPLE = (
    r"(?:people|customers|clients|users|readers|members|fans|parents|mums|moms|dads|families|gardeners|cooks"
    r"|chefs|bakers|businesses|companies|teams|patients|doctors|dentists|experts|shoppers|subscribers|listeners"
    r"|viewers|owners|drivers|travell?ers|students|teachers|professionals|homes|households|buyers|investors"
    r"|athletes|runners|nurses|women|men|kids|children|adults|americans|britons|brits|germans|europeans"
    r"|consumers|diners|guests|visitors|pet\s+owners|dog\s+owners|cat\s+owners|homeowners|retailers|shops"
    r"|riders|runners|walkers|hikers|swimmers|skiers|climbers|campers|golfers|gamers|players|drinkers|eaters"
    r"|sleepers|smokers|commuters|tourists|residents|tenants|renters|landlords|employers|employees|workers"
    r"|managers|leaders|founders|marketers|developers|designers|writers|voters|savers|borrowers|traders"
    r"|small\s+businesses|brands|firms|startups|schools|hospitals|clinics|restaurants"
    r"|[a-z]+(?:ists|ians|eurs))"  # agent and demonym nouns: cyclists, physicians, Londoners' kin
)
_EXPERTS = (
    r"(?:experts?|doctors?|gps|dentists?|dermatologists?|nutritionists?|dietitians?|dieticians?|scientists?"
    r"|physicians?|vets?|veterinarians?|pharmacists?|physiotherapists?|physios?|chefs?|professionals?|specialists?"
    r"|researchers?|p(?:a)?ediatricians?|midwives|midwife|trainers?|coaches|nurses?|therapists?|psychologists?"
    r"|cardiologists?|surgeons?|economists?|analysts?|engineers?|scientific\s+community|the\s+pros)"
)
_BACKING_VERBS = (
    r"(?:agree|agrees|say|says|said|recommend|recommends|recommended|endorse|endorses|approve|approves|trust"
    r"|trusts|choose|chooses|chose|prefer|prefers|swear\s+by|back|backs|rely\s+on|rate|rates|love|loves|use"
    r"|notice|noticed|report|reported|find|found|switched|have\s+switched|would\s+(?:choose|recommend|buy)"
    r"|confirm|confirms|advise|advises|suggest|suggests|rave)"
)
_AILMENT = (
    r"(?:pain|aches?|stress|anxiety|symptoms|headaches?|migraines?|colds?|flu|coughs?|wrinkles|fine\s+lines|acne"
    r"|spots|eczema|psoriasis|fatigue|insomnia|inflammation|bloating|signs\s+of\s+(?:ageing|aging)|ageing|aging"
    r"|cellulite|hair\s+loss|baldness|allergies|hay\s+fever|infections?|diseases?|illness(?:es)?|germs|viruses"
    r"|depression|arthritis|diabetes|cancer|obesity|belly\s+fat|snoring|jet\s+lag|hangovers?|cravings)"
)
# "first" as a point in time or a place in a sequence ("his first year here", "the first few weeks", "at
# first", "the first step") orders things and claims nothing; "the first café to…" or "the first and only"
# does. FIRST_CLAIM is the word only where it may claim (lower case: the fixed patterns run on folded
# text, and agents/grounding.py's factual heuristic uses it with IGNORECASE).
_FIRST_NOT_CLAIMING = (
    r"(?:(?:few|couple\s+of|two|three|four|five|six|seven|eight|nine|ten|\d+)\s+)?"
    r"(?:years?|days?|times?|weeks?|months?|hours?|minutes?|mornings?|evenings?|nights?|weekends?|seasons?"
    r"|summers?|winters?|springs?|autumns?|terms?|semesters?|decades?|shifts?|visits?|steps?|things?|stages?"
    r"|rounds?|sips?|bites?|half|quarter|glance|sight|of\s+all|place|jobs?|sections?|parts?|chapters?|pages?"
    r"|lessons?|classes|class|impressions?|cups?|batch(?:es)?|attempts?|tries|try|questions?|points?|lines?"
    r"|sentences?|paragraphs?)(?!\w)"
)
# "my/his/her/your first …" is someone's own history, never a record; "First, …" orders what follows.
# ("We did it first!" may claim, so a "first" that ends a sentence still counts.)
FIRST_CLAIM = (
    rf"(?<!\bat\s)(?<!\bmy\s)(?<!\bhis\s)(?<!\bher\s)(?<!\byour\s)first(?!\s+{_FIRST_NOT_CLAIMING})(?!\s*,)"
)
_CLAIM_PATTERNS: dict[str, str] = {
    "majority": (
        rf"most\s+(?:[a-z-]+\s+){{0,2}}?{_PEOPLE}\s+(?:[a-z-]+\s+){{0,3}}?(?:now|already|still|{_BACKING_VERBS}"
        rf"|have|had|are|were|will|would|can|do|don['’]?t|never|always|ride|buy|use|get|pick|go|want|need)\b"
        r"|(?:overwhelmingly|universally|unanimously)\s+(?:prefer|choose|chose|pick|recommend|agree|rate|love|back"
        r"|favou?r|trust|positive|popular|preferred|recommended|loved|chosen|rated)[a-z]*"
        rf"|majority\s+of\s+(?:\w+\s+){{0,2}}?{_PEOPLE}"
        r"|(?:almost|nearly|virtually|practically)\s+(?:everyone|everybody|all\s+(?:\w+\s+)?(?:of\s+)?(?:our\s+)?\w+s\b)"
        rf"|(?:everyone|everybody)\s+(?:agrees|loves|says|knows|prefers|recommends|trusts|raves)"
        rf"|(?:millions|thousands|hundreds|tens\s+of\s+thousands|countless|vast\s+numbers|legions|dozens)\s+of\s+"
        rf"(?:[a-z-]+\s+){{0,2}}?{_PEOPLE}"
        rf"|(?:countless|many|so\s+many)\s+{_PEOPLE}\s+(?:now\s+|already\s+)?{_BACKING_VERBS}\b"
        rf"|(?:{_NUMBER_WORD}|one|\d+)\s+(?:out\s+of|in)\s+(?:every\s+)?(?:{_NUMBER_WORD}|\d+)\s+"
        rf"(?:[a-z-]+\s+)?{_PEOPLE}"
    ),
    "authority": (
        rf"{_EXPERTS}"
        rf"\s+(?:all\s+|now\s+|widely\s+|strongly\s+)?{_BACKING_VERBS}\b"
        rf"|(?:recommended|endorsed|approved|trusted|tested|chosen|backed|used|developed|formulated|loved|preferred"
        rf"|certified|praised|vetted)\s+by\s+(?:\w+\s+){{0,3}}?{_EXPERTS}"
        rf"|{_EXPERTS}[- ](?:recommended|approved|endorsed|tested|trusted|formulated|developed|backed)"
        rf"|according\s+to\s+(?:(?:the|most|many|leading|top|some|independent|our)\s+)?(?:[a-z-]+\s+)?{_EXPERTS}"
        rf"|(?:leading|top|independent|world-renowned|renowned|the\s+world['’]s)\s+(?:[a-z-]+\s+)?{_EXPERTS}"
        rf"\s+(?:[a-z-]+\s+){{0,2}}?{_BACKING_VERBS}\b"
    ),
    "scientific": (
        r"(?:scientifically|clinically|medically|independently|dermatologically|lab|laboratory)[- ]"
        r"(?:proven|shown|tested|validated|demonstrated|backed|approved|verified|confirmed)"
        r"|(?:studies|research|science|evidence|trials?|(?:lab\s+)?tests|data|experiments?|the\s+science)"
        r"\s+(?:(?:now\s+|also\s+|clearly\s+)?(?:shows?|showed|proves?|proved|confirms?|confirmed|suggests?"
        r"|says|demonstrates?|demonstrated|reveals?|revealed|indicates?|backs?|supports?)"
        r"|(?:has|have)\s+(?:shown|proven|proved|confirmed|demonstrated))\b"
        r"|(?:an?|one|the\s+latest|the\s+new|new|recent)\s+(?:[a-z-]+\s+){0,2}?(?:study|survey|trial|report|paper"
        r"|experiment|analysis)\s+(?:\w+\s+){0,3}?(?:found|finds|shows?|showed|proves?|proved|confirms?|confirmed"
        r"|revealed?|reveals|demonstrated?|concluded?)\b"
        r"|(?:backed|supported|proven|confirmed)\s+by\s+(?:science|research|studies|data|evidence|scientists)"
        r"|(?:science|research|evidence)[- ](?:backed|based|proven)|proven\s+to|shown\s+to\s+(?:improve|reduce|boost"
        r"|help|increase|lower|cut)|according\s+to\s+(?:science|research|studies|scientists|experts)"
    ),
    "absolute": (
        r"(?:you\s*(?:will|['’]ll|can|could)|can|will|shall|cannot|can['’]?t|won['’]?t)\s+never\s+"
        r"(?:again\s+)?(?:lose|fail|break|miss|run\s+out|go\s+wrong|let\s+you\s+down|wear\s+out|worry|crash|leak"
        r"|fade|rust|stain|have\s+to\s+worry)"
        r"|never\s+(?:again\s+)?(?:fails?|breaks?|wears?\s+out|goes\s+wrong|lets?\s+you\s+down|leaks?|fades?"
        r"|crashes|rusts?)"
        r"|guaranteed\s+to|(?:completely|totally|fully|entirely|absolutely|100\s?%)\s+(?:unbreakable|safe|secure"
        r"|risk[- ]free|waterproof|dry|harmless|guaranteed|foolproof|effortless|painless|reliable|protected"
        r"|leak[- ]?proof|accurate|effective|natural|pure|toxin[- ]free|chemical[- ]free|stress[- ]free)"
        r"|every\s+single\s+time|works\s+every\s+time|without\s+fail|fail[- ]?proof|fail[- ]safe|foolproof"
        r"|unbreakable|indestructible|(?:lasts?|last)\s+(?:forever|a\s+lifetime)"
        r"|always\s+(?:(?:be|taste|tastes|look|looks|feel|feels|stay|stays|run|runs|work|works|come\s+out|turn\s+out)"
        r"\s+)?(?:safe|secure|works?|on\s+time|protected|accurate|reliable|perfect|right|flawless|fresh)"
        r"|no\s+matter\s+what|in\s+any\s+(?:weather|situation|condition|climate)|zero\s+(?:downtime|defects|failures)"
        r"|(?:eliminates?|removes?|kills?|blocks?)\s+(?:all|100\s?%\s+of|99(?:\.9+)?\s?%\s+of|every)"
        r"\s+(?:\w+\s+)?(?:bacteria|germs|virus(?:es)?|odou?rs?|allergens|toxins|stains|risks?|errors|spam|threats)"
    ),
    "superlative": (
        r"(?:world|america|europe|country|nation|britain|the\s+uk|england|scotland|wales|ireland|germany|france"
        r"|spain|italy|australia|canada|london|city|town)['’]?s\s+(?:leading|first|best|largest|biggest|most[\s-]+\w+"
        r"|favou?rite|no\.?\s?1|number[- ]one|top)"
        r"|best[- ]in[- ]class|best[- ]selling"
        r"|(?<!all the )(?<!at )(?<!your )best(?![\s-]+(?:regards|wishes|before|practices?|of\s+luck|times?\s+(?:of|to|for))\b)"
        r"|fastest|quickest|cheapest|lowest[- ]priced?|greatest|largest|biggest|finest|strongest|safest|smartest"
        r"|healthiest|top[- ]rated|highest[- ]rated|number[- ]one|no\.\s?1(?!\d)|#1(?!\d)"
        r"|most\s+(?:popular|trusted|loved|advanced|reliable|effective|powerful|innovative|affordable"
        r"|comprehensive|secure|accurate|complete|sustainable|delicious)"
        r"|world[- ]class|(?:industry|market)[- ]leading|leading\s+(?:provider|brand|supplier|manufacturer|company)"
        r"|unbeatable|unmatched|unrivall?ed|unparall?eled|second\s+to\s+none"
        r"|(?:nothing|no\s+one|nobody|no\s+other\s+[a-z-]+)\s+(?:[a-z'’-]+\s+){0,4}?(?:comes?\s+close|compares?"
        r"|beats|matches|can\s+(?:match|beat|compete)|does\s+it\s+better|works?\s+better)"
        r"|like\s+no\s+other|in\s+a\s+league\s+of\s+(?:its|their)\s+own"
        # starts at "first" (looked back for its article): a pattern opening on "the" is tried everywhere
        rf"|(?:(?<=the\s)|(?<=our\s)|(?<=its\s)|(?<=their\s)|(?<=very\s)){FIRST_CLAIM}\s+(?:and\s+only"
        r"|(?:[^\W\d_][\w'’-]*\s+){1,3}?to\s+[a-z]+)"
    ),
    "figure": (
        r"\d+(?:[.,]\d+)?\s?(?:%|percent\b|per\s+cent\b)"
        r"|\d+(?:[.,]\d+)?[x×](?:\s+(?:more|less|\w+er)\b)?"  # "2x faster", not "2 x 250 g"
        rf"|(?:\d+(?:[.,]\d+)?|{_NUMBER_WORD})\s+times\s+(?:as\s+\w+|more|less|the|\w+er)\b"
        r"|twice\s+as\s+\w+|(?:in\s+)?half\s+the\s+(?:time|price|cost|effort)|halves|doubles|triples"
        r"|(?:by|up\s+to|over|more\s+than|almost|nearly)\s+(?:a\s+third|a\s+quarter|half|two[- ]thirds"
        r"|three[- ]quarters)\b"
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
        r"|(?:relieves?|eases?|soothes?|reduces?|alleviates?|ends?)\s+(?:\w+\s+){0,2}?(?:pain|aches?|stress|anxiety"
        r"|symptoms|headaches?|migraines?|tension|inflammation|bloating|wrinkles|acne|eczema|fatigue|nausea|cramps"
        r"|insomnia|depression|joint\s+pain|back\s+pain)"
        r"|improves?\s+(?:your\s+)?(?:digestion|sleep|immunity|focus|memory|skin|circulation|mood|heart\s+health"
        r"|gut\s+health|concentration|metabolism|energy\s+levels|fertility|eyesight|vision|brain\s+function)"
        r"|(?:recover|heal)\s+(?:from\s+(?:\w+\s+){1,2})?faster|speeds?\s+(?:up\s+)?(?:recovery|healing)"
        r"|protects?\s+(?:your\s+|the\s+)?(?:eyes|skin|heart|joints|brain|body|liver|gut|immune\s+system|cells)"
        r"(?:\s+from|\s+against)?"
        r"|helps?\s+(?:you\s+)?(?:to\s+)?(?:fall\s+asleep|sleep\s+better|lose\s+weight|recover|heal|digest|focus"
        r"|stay\s+asleep|fight|prevent)"
        r"|calms?\s+(?:the|your)\s+(?:mind|nerves|gut|stomach)|(?:good|great|better)\s+for\s+your\s+(?:heart|health"
        r"|brain|gut|liver|immune\s+system)|boosts?\s+(?:your\s+)?(?:metabolism|energy|immunity|brain|memory|mood)"
        r"|treats?\s+(?:\w+\s+){0,2}(?:diseases?|cancer|illness(?:es)?|infections?|depression|anxiety|diabetes"
        r"|arthritis|insomnia)"
        r"|fights?\s+(?:cancer|diseases?|infections?|inflammation|aging|ageing)"
        r"|anti[- ]?(?:aging|ageing|inflammatory|cancer)|reduces?\s+(?:the\s+|your\s+)?risk\s+of"
        r"|lowers?\s+(?:your\s+)?(?:cholesterol|blood\s+pressure|blood\s+sugar)|burns?\s+(?:belly\s+)?fat"
        r"|weight\s+loss|lose\s+weight|doctor[- ]recommended|miracle\s+(?:cure|remedy)"
        rf"|(?:gets?\s+rid\s+of|banish(?:es)?|eliminates?|stops?|reverses?|erases?|clears?\s+up|wards?\s+off"
        rf"|beats?|fix(?:es)?|tackles?|combats?|prevents?|relieves?|ends?|cures?|heals?|reduces?|soothes?)"
        rf"\s+(?:[a-z'’-]+\s+){{0,3}}?{_AILMENT}"
        rf"|keeps?\s+(?:[a-z'’-]+\s+){{0,2}}?{_AILMENT}\s+(?:away|at\s+bay)"
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
        r"|safe\s+investment|no\s+(?:downside|risk\s+to\s+your)|(?:cannot|can['’]?t|won['’]?t|never|will\s+not)\s+"
        r"lose\s+(?:money|a\s+penny|a\s+cent|your\s+(?:money|savings|investment|capital))"
        r"|(?:investment|fund|savings|shares?|portfolio|price|value)\s+(?:that\s+|which\s+)?(?:cannot|can['’]?t|won['’]?t"
        r"|will\s+never|never)\s+(?:go\s+down|fall|drop|lose\s+value|crash)"
        r"|turn\s+(?:[$€£]?\d[\d,.]*\s*(?:k|pounds|dollars|euros)?|your\s+\w+)\s+into"
        r"|extra\s+(?:income|cash)|(?:steady|stable|consistent|reliable|solid|predictable)\s+(?:returns?|income"
        r"|profits?|gains?|growth)|guaranteed\s+(?:interest|growth)|(?:will\s+)?only\s+(?:ever\s+)?(?:grow|go\s+up"
        r"|increase|rise)|beats?\s+inflation|(?:capital|investment|money)\s+is\s+(?:protected|safe|secure)"
        r"|protected\s+(?:investment|capital)|(?:returns?|yields?|profits?)\s+of\s+(?:over\s+|up\s+to\s+)?"
        r"[$€£]?\d|(?:pays?|paid)\s+for\s+itself|money[- ]back\s+guarantee|grow\s+your\s+(?:wealth|money|savings)"
        r"|(?:income|profits?|money)\s+(?:every\s+month\s+)?without\s+(?:effort|lifting|working|risk)"
        r"|watch\s+(?:them|it|your\s+(?:money|savings|investments?|wealth|pot))\s+grow"
        r"|(?:grows?|growing)\s+(?:safely|securely|steadily|risk[- ]free)"
        r"|(?:money|investments?|funds?|savings|shares?|portfolio|pension|capital|returns?|deposits?|stocks?)"
        r"\s+(?:[a-z'’-]+\s+){0,3}?(?:cannot|can['’]?t|won['’]?t|(?:can|could|will|would|shall)\s+never|never|does\s+not|doesn['’]?t)"
        r"\s+(?:ever\s+)?(?:go\s+down|fall|drop|lose|crash|shrink|decline)"
        r"|(?:always|guaranteed\s+to|sure\s+to|certain\s+to|bound\s+to)\s+(?:pays?\s+off|profit|make\s+money"
        r"|beat\s+the\s+market|go\s+up)"
        r"|(?:whatever|no\s+matter\s+what)\s+the\s+markets?\s+do(?:es)?"
    ),
}


@lru_cache(maxsize=64)
def claims_regex(kinds: tuple[str, ...]) -> re.Pattern[str]:
    """One pass for the given kinds, a named group each; at a place where several match, the first kind
    in CLAIM_KINDS order wins."""
    kinds = tuple(k for k in CLAIM_KINDS if k in kinds)
    groups = "|".join(rf"(?P<{k}>(?:{_CLAIM_PATTERNS[k]})(?!\w))" for k in kinds)
    return re.compile(rf"(?<![\w#$€£])(?:{groups})")
_CLAIM_LABELS = {"superlative": "Superlative", "figure": "Numeric", "health": "Health", "financial": "Financial",
                 "majority": "Majority", "authority": "Authority", "scientific": "Scientific", "absolute": "Absolute"}
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n\s*\n")
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
_STOP_STEMS = frozenset(
    "a an the and or of to in on at by for with from as is are was were be been has have had it its our we us "
    "you your their they this that these those now all".split()
)
# Before a claim in its sentence: a rule about what not to say ("we must not write that doctors
# recommend…") quiets every kind; an opinion marker ("I think most readers…") quiets the kinds that are
# a matter of taste. A hedged health or financial promise ("we believe you can't lose") still counts.
_NOT_SAYING = re.compile(
    r"\b(?:must\s+not|mustn['’]?t|may\s+not|should\s+not|shouldn['’]?t|do\s+not|don['’]?t|never|avoid|cannot"
    r"|can['’]?t|not\s+allowed\s+to|forbidden\s+to|banned\s+from)\s+(?:\w+\s+){0,2}?(?:say|saying|write|writing"
    r"|claim|claiming|state|stating|imply|implying|suggest|suggesting|promise|promising|use\s+(?:the\s+)?"
    r"(?:words?|phrases?|claims?))\b", re.IGNORECASE)
_OPINION = re.compile(
    r"\b(?:i|we)\s+(?:(?:really|honestly|personally)\s+)?(?:think|feel|reckon|guess|suspect|hope|expect|bet)\b"
    r"|\bin\s+(?:my|our)\s+(?:view|opinion|experience)\b|\bto\s+(?:my|our)\s+(?:mind|taste)\b"
    r"|\b(?:i|we)['’]d\s+(?:say|guess)\b", re.IGNORECASE)
_TASTE_KINDS = frozenset({"majority", "superlative"})
SUPPORT_SHARE = 0.7  # of a sentence's words (by stem) that one source must contain to support it


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    before = [m.end() for m in _SENTENCE_END.finditer(text, 0, start)]
    after = _SENTENCE_END.search(text, end)
    return (before[-1] if before else 0), (after.end() if after else len(text))


def _content(text: str) -> set[str]:
    return {s for _, _, s in words(text) if s not in _STOP_STEMS}


def supported_by(sentence: str, sources: list[set[str]]) -> bool:
    """Whether one source (its stems) has every figure of `sentence` and most of its other words."""
    stems = _content(sentence)
    if not stems:
        return False
    figures = {s for s in stems if _FIGURE.fullmatch(s)}
    return any(figures <= source and len(stems & source) >= SUPPORT_SHARE * len(stems) for source in sources)


def find_claims(text: str, *, severity: str = WARNING, kinds: Iterable[str] = CLAIM_KINDS,
                folded: str | None = None, sources: Iterable[str] = ()) -> list[FindingData]:
    """Claims that need a source, by kind; one finding per span (the first kind in CLAIM_KINDS
    order wins), none in a sentence that one of `sources` states too."""
    folded = fold(text) if folded is None else folded
    source_stems = [_content(s) for s in sources if s]
    findings: list[FindingData] = []
    supported: dict[tuple[int, int], bool] = {}
    kinds = tuple(kinds)
    if not kinds:
        return []
    ends: list[int] | None = None
    for m in claims_regex(kinds).finditer(folded):
        start, end = m.span()
        if ends is None:  # sentence ends, once per text: a claim's sentence start is then a bisect
            ends = [e.end() for e in _SENTENCE_END.finditer(text)]
        before = bisect_right(ends, start)
        lead = text[ends[before - 1] if before else 0:start]
        if _NOT_SAYING.search(lead) or (m.lastgroup in _TASTE_KINDS and _OPINION.search(lead)):
            continue
        if source_stems:
            sentence = _sentence(text, start, end)
            if sentence not in supported:
                supported[sentence] = supported_by(text[slice(*sentence)], source_stems)
            if supported[sentence]:
                continue
        findings.append(hit(text, start, end, category="claim", severity=severity,
                            message=f"{_CLAIM_LABELS[m.lastgroup]} claim needs a source"))
    return findings
