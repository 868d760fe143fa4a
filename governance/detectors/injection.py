"""Instruction-like text in retrieved sources (possible prompt injection)."""
from __future__ import annotations

import re

from governance.detectors.findings import WARNING, FindingData, fold, hit

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
    # "Pretend you are…" as an order, not "staff pretend to be pirates at the party".
    r"(?:(?:^|(?<=[.!?:>\n]))[ \t]*|\b(?:you\s+(?:must|should|will|shall|can|could)|please|now|just|and)\s+)"
    r"pretend\s+(?:to\s+be|you\s+are|that\s+you)|pretend\s+(?:you\s+are|that\s+you)",
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
    # A change of output format or language: "answer only in JSON", "reply with YES and nothing else".
    r"(?:answer|respond|reply|write|output|format|return|translate|speak)\s+(?:\w+\s+){0,3}?"
    r"(?:only|exclusively|solely|entirely|always)\s+(?:in|as|with|using)\b"
    r"|(?:answer|respond|reply|output)\s+(?:only\s+)?with\s+(?:the\s+word\s+)?\S+\s+and\s+nothing\s+else"
    r"|(?:your|every|each|the)\s+(?:response|reply|answer|output|article|summary)s?\s+(?:must|should|shall|will)\s+"
    r"(?:be\s+)?(?:written|formatted|given|only|always|entirely|in\b)"
    r"|(?:format|write|render)\s+(?:every|each|your|the\s+whole)\s+(?:\w+\s+){0,2}?(?:reply|replies|response|answer"
    r"|article|output|text)\s+as\b"
    r"|(?:write|output)\s+(?:the\s+whole\s+|your\s+|the\s+)?(?:article|answer|response|text|output)\s+"
    r"(?:as\s+an?\s+\w+\s+instead|in\s+(?:upper|lower)case|in\s+base64)"
    r"|in\s+(?:uppercase|capital)\s+letters\s+only",
    # A change of persona: "assume the role of", "roleplay as", "you are a pirate now".
    r"(?:assume|adopt|take\s+on)\s+the\s+(?:role|persona|character|voice)\s+of\b"
    r"|role[- ]?play\s+as|you\s+are\s+(?:an?\s+)?\w+\s+now\b|behave\s+(?:like|as)\s+an?\s+(?:\w+\s+){0,2}?"
    r"(?:assistant|ai|bot|model)|(?:talk|speak|write)\s+like\s+(?:an?\s+)?[a-z]+\s+in\s+(?:every|all|each|everything)",
    # "From now on, …" followed by an order rather than news ("from now on the bakery opens at 8").
    r"(?:from\s+now\s+on|henceforth|hereafter|starting\s+now|going\s+forward|from\s+this\s+point(?:\s+on)?)"
    r",?\s+(?:you\b|always\b|never\b|every\s+(?:answer|reply|response|paragraph|sentence|output)|"
    r"(?:end|start|begin|write|answer|respond|reply|refer|call|describe|mention|include|add|use|say|speak|talk"
    r"|format|treat|ignore|replace|sign|append|recommend|praise|translate|insert)\b)",
    # A demand to add a link or a code to what is written.
    r"(?:include|add|insert|append|put|paste|mention|embed|place|slip|sneak|work|weave|drop|plug)\s+(?:\w+\s+){0,4}?"
    r"(?:link|url|hyperlink|promo\s+code|discount\s+code|coupon|voucher|referral|snippet|script|tracking|code\s+\w+)"
    r"\b(?=(?:[^.!?\n]|[.!?](?=\S)){0,80}?\b(?:answer|response|reply|article|summary|output|text|paragraph|post"
    r"|copy|draft|content"
    r"|write|verbatim|important)\b)"
    r"|(?:make\s+sure|be\s+sure|ensure)\s+(?:that\s+)?(?:your|the|to|you)\s+(?:\w+\s+){0,3}?"
    r"(?:links?|include|add|mention|contain)s?\b"
    r"|(?:when|whenever|if)\s+you\s+(?:write|summari[sz]e|answer|respond|describe)\b",
    # Text addressed to the assistant: "note to the AI", "if you are a language model", "dear AI".
    r"(?:note|message|instructions?|attention|hey|hi|hello|dear)[,:]?\s+(?:to\s+|for\s+)?(?:the\s+|any\s+|all\s+)?"
    r"(?:ai|a\.i\.|assistant|chatbot|bot|language\s+model|llm|model|gpt|crawler|agent)s?\b"
    r"|(?:if|when)\s+you\s+are\s+(?:an?\s+)?(?:ai|a\.i\.|assistant|chatbot|bot|language\s+model|llm|large"
    r"\s+language\s+model|model|gpt|machine)"
    r"|to\s+(?:any|the|all|every)\s+(?:ai|assistant|chatbot|bot|language\s+model|llm|model|crawler)s?\b"
    r"|(?:^|(?<=[.!?>]\s)|<!--\s*)(?:(?:ai|writer|writing|content)\s+)?(?:ai|assistant|model|llm|bot|language\s+model"
    r"|system|chatbot|gpt|a\.i\.)\s*[:,]",
    # Orders about the assistant's task, identity or output, in words a web page rarely uses for people.
    r"forget\s+(?:the|your|this|my|our)\s+(?:brief|task|assignment|instructions|prompt|guidelines|rules|style\s+guide"
    r"|brand\s+voice)"
    r"|(?:^|(?<=[.;!?]\s))(?:write|say|produce|output|answer|describe|call|tell|make)\b[^.!?\n]{0,80}\binstead\b"
    r"|(?:answer|respond|reply|write|speak|talk|act)\s+as\s+(?:if|though)\s+you\s+(?:were|are)\b"
    r"|(?:every\s+time|whenever|each\s+time)\s+you\s+(?:mention|write|answer|respond|reply|summari[sz]e|describe"
    r"|quote|cite|refer|generate|produce)"
    r"|(?:whole|entire)\s+(?:response|reply|answer|output)|(?:in|for|throughout)\s+(?:every|each)\s+(?:response"
    r"|reply|answer|output)|in\s+your\s+(?:response|answer|output|summary|article)s?\b"
    r"|you\s+are\s+no\s+longer\b|you(?:\s+are|['’]re)\s+not\s+(?:an?\s+)?(?:ai|assistant|language\s+model|chatbot"
    r"|writing\s+assistant|bot)\b"
    r"|(?:make\s+sure|be\s+sure|ensure)\b[^.!?\n]{0,60}?\b(?:summary|answer|response|output|article|reply)\b"
    r"|(?:hidden|secret)\s+(?:instruction|message|note|command)s?\b"
    r"|for\s+(?:automated|ai|machine)\s+(?:readers|writers|systems|agents|tools|models)\b"
    r"|disregard\s+(?:the|your|our)\s+(?:brand\s+voice|style\s+guide|guidelines|brief|tone|rules)",
    # An order to drop the task or replace it: "whatever you were asked", "instead of summarising, …".
    r"whatever\s+(?:else\s+)?you\s+(?:were|are|have\s+been)\s+(?:asked|told|instructed|supposed)"
    r"|instead\s+of\s+(?:summari[sz]ing|writing|answering|translating|responding|following|doing)\b"
    r"|(?:output|print|say|write|repeat)\s+(?:only\s+)?(?:the\s+(?:word|phrase|sentence)|exactly)\b"
    r"|these\s+instructions\s+(?:replace|supersede|override)|(?:replace|supersede)s?\s+(?:your|all)\s+"
    r"(?:previous|prior|earlier|other)\s+(?:ones|instructions|rules)",
    # Secrecy and overrides: "keep this hidden from the reader", "no longer applies", "send the conversation".
    r"(?:keep|hide)\s+(?:this|it)\s+(?:hidden\s+)?from\s+the\s+(?:user|reader|editor)"
    r"|(?:prior|previous|earlier|above|all)\s+(?:guidance|instructions|rules|directions)\s+(?:no\s+longer|do\s+not"
    r"|don['’]t)\s+appl|stop\s+following\s+(?:your|the|all)\s+(?:\w+\s+)?(?:guidelines|instructions|rules)"
    r"|(?:send|forward|email|post|leak)\s+(?:the|this|your)\s+(?:conversation|chat|prompt|context|instructions"
    r"|history)\s+to|(?:the\s+following|these)\s+(?:facts|instructions|rules)\s+override"
    r"|(?:hidden|secret|initial|original)\s+(?:instructions|prompt)",
)
# Text hidden in an HTML comment that speaks to a reader who is not a person, or gives an order.
_HTML_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)
_COMMENT_ORDER = re.compile(
    r"\b(?:ai|a\.i\.|assistant|chatbot|bot|model|llm|gpt|you|your|reader|readers|user)\b"
    r"|^\s*(?:tell|say|add|write|include|insert|mention|recommend|call|describe|respond|reply|answer|ignore"
    r"|make|use|remove|replace|link|promote|praise|claim|state|never|always|do\s+not|don['’]t)\b"
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
    folded = fold(text)
    spans = []
    for m in _INSTRUCTION_LIKE.finditer(folded):
        start, end = m.span()
        start += len(m.group(0)) - len(m.group(0).lstrip())  # the "act as" pattern may begin at spaces
        spans.append((start, end))
    for m in _HTML_COMMENT.finditer(folded):
        if _COMMENT_ORDER.search(m.group(1)) and not any(m.start() <= s and e <= m.end() for s, e in spans):
            spans.append(m.span())
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return [hit(text, start, end, category="prompt_injection", severity=severity, message=_INJECTION_MESSAGE)
            for start, end in merged]
