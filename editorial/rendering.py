"""Model output is untrusted: Markdown is rendered, then sanitised, never trusted as HTML."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import markdown as md
import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "p", "br", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "b", "i",
    "blockquote", "code", "pre", "hr", "a", "table", "thead", "tbody", "tr", "th", "td", "del", "ins",
}


def render_markdown(text: str) -> SafeString:
    html = md.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above


# Private-use characters mark finding spans through Markdown rendering and sanitising, which
# leave them alone; they become <mark> elements afterwards.
_OPEN, _CLOSE, _INDEX_BASE = "\ue000", "\ue001", 0xE100


def _inline_spans(text: str, findings: Iterable[Any]) -> list[tuple[int, int, int, Any]]:
    """Non-overlapping single-line spans, in order: (start, end, index, finding)."""
    spans, last_end = [], -1
    ordered = sorted(
        ((f.start, f.end, i, f) for i, f in enumerate(findings) if f.start is not None and f.end is not None),
        key=lambda s: (s[0], s[1]),
    )
    for start, end, i, f in ordered:
        if start >= last_end and end > start and "\n" not in text[start:end] and end <= len(text):
            spans.append((start, end, i, f))
            last_end = end
    return spans


def _mark_open(finding: Any, index: int) -> str:
    return (
        f'<mark class="finding-mark sev-{escape(finding.severity)}" data-finding="{index}" '
        f'title="{escape(finding.message)}">'
    )


def render_markdown_with_findings(text: str, findings: Iterable[Any]) -> SafeString:
    """Rendered Markdown with each finding's exact span highlighted in place."""
    findings = list(findings)
    spans = _inline_spans(text, findings)
    out, pos = [], 0
    for start, end, i, _ in spans:
        out += [text[pos:start], _OPEN, chr(_INDEX_BASE + i), text[start:end], _CLOSE]
        pos = end
    out.append(text[pos:])
    html = str(render_markdown("".join(out)))
    for _, _, i, finding in spans:
        html = html.replace(_OPEN + chr(_INDEX_BASE + i), _mark_open(finding, i), 1)
    return mark_safe(html.replace(_CLOSE, "</mark>"))  # noqa: S308 - only our own tags were added


def highlight_findings(text: str, findings: Iterable[Any]) -> SafeString:
    """Plain text (escaped) with the findings' spans marked."""
    findings = list(findings)
    out, pos = [], 0
    for start, end, i, finding in _inline_spans(text, findings):
        out += [escape(text[pos:start]), _mark_open(finding, i), escape(text[start:end]), "</mark>"]
        pos = end
    out.append(escape(text[pos:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece of text is escaped
