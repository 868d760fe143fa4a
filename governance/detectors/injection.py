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
    for m in _INSTRUCTION_LIKE.finditer(fold(text)):
        start, end = m.span()
        start += len(m.group(0)) - len(m.group(0).lstrip())  # the "act as" pattern may begin at spaces
        findings.append(
            hit(text, start, end, category="prompt_injection", severity=severity, message=_INJECTION_MESSAGE)
        )
    return findings
