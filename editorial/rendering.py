"""Model output is untrusted: Markdown is rendered, then sanitised, never trusted as HTML."""
from __future__ import annotations

import re
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


def render_markdown_with_findings(
    text: str, findings: Iterable[Any], sentences: list[dict[str, Any]] | None = None
) -> SafeString:
    """Rendered Markdown with each finding's exact span highlighted in place and, when the revision's
    provenance links its sentences to sources (agents/grounding.py), each sentence focusable with its
    source (title, snippet, score) as a tooltip; unsupported ones are marked."""
    findings = list(findings)
    spans = _inline_spans(text, findings)
    sents = _sentence_spans(text, sentences or [], spans)
    # (position, order, marker): at one position, closes come before opens, and a sentence wraps the
    # findings inside it (opens first, closes last).
    events: list[tuple[int, int, str]] = []
    for start, end, i, _ in spans:
        events += [(start, 3, _OPEN + chr(_INDEX_BASE + i)), (end, 1, _CLOSE)]
    for start, end, j, _ in sents:
        events += [(start, 2, _SOPEN + chr(_SENT_BASE + j)), (end, 0, _SCLOSE + chr(_SENT_BASE + j))]
    events.sort(key=lambda e: (e[0], e[1]))
    out, pos = [], 0
    for at, _, marker in events:
        out += [text[pos:at], marker]
        pos = at
    out.append(text[pos:])
    html = str(render_markdown("".join(out)))
    for _, _, i, finding in spans:
        html = html.replace(_OPEN + chr(_INDEX_BASE + i), _mark_open(finding, i), 1)
    html = html.replace(_CLOSE, "</mark>")
    if not sents:
        return mark_safe(html)  # noqa: S308 - only our own tags were added
    for _, _, j, link in sents:
        html = html.replace(_SOPEN + chr(_SENT_BASE + j), _sentence_open(link, j), 1)
        html = html.replace(_SCLOSE + chr(_SENT_BASE + j), _sentence_close(link, j), 1)
    # Markdown emphasis that crosses a sentence boundary would leave our spans badly nested: parse and
    # serialise once more (html5ever repairs nesting), with only the tags and attributes we produce.
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS | {"mark", "span"},
        attributes={
            "a": {"href", "title"},
            "mark": {"class", "data-finding", "title"},
            "span": {"class", "tabindex", "aria-describedby", "data-sentence", "role", "id"},
        },
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above


# Sentence spans use their own private-use markers (their indexes above the findings').
_SOPEN, _SCLOSE, _SENT_BASE = "\ue002", "\ue003", 0xEA00
_MAX_SENTENCE_MARKS = 0xF8FF - _SENT_BASE


def _sentence_spans(
    text: str, sentences: list[dict[str, Any]], findings: list[tuple[int, int, int, Any]]
) -> list[tuple[int, int, int, dict[str, Any]]]:
    """Valid single-line sentence spans that do not cut through a finding's span."""
    out, last_end = [], -1
    for j, link in enumerate(sentences[:_MAX_SENTENCE_MARKS]):
        if not isinstance(link, dict):
            continue
        start, end = link.get("start"), link.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
            continue
        if start < last_end or "\n" in text[start:end]:
            continue
        if any(fs < end and fe > start and not (start <= fs and fe <= end) for fs, fe, _, _ in findings):
            continue  # the finding's mark wins
        out.append((start, end, j, link))
        last_end = end
    return out


def _sentence_tip(link: dict[str, Any]) -> str:
    score = link.get("score")
    shown = f"{score:.2f}" if isinstance(score, int | float) else "–"
    title = str(link.get("title") or "")
    snippet = str(link.get("snippet") or "")
    if not link.get("chunk_id"):
        return "No source was retrieved for this draft."
    if not link.get("supported", True):
        return f"Unsupported: no source backs this claim. Closest: {title} (score {shown}) — “{snippet}”"
    if link.get("matched") is False:
        return f"No close source. Nearest: {title} (score {shown}) — “{snippet}”"
    return f"Source: {title} (score {shown}) — “{snippet}”"


def _sentence_open(link: dict[str, Any], j: int) -> str:
    unsupported = " unsupported" if link.get("supported") is False else ""
    return (f'<span class="sent{unsupported}" tabindex="0" data-sentence="{j}" '
            f'aria-describedby="src-tip-{j}">')


def _sentence_close(link: dict[str, Any], j: int) -> str:
    return f'<span class="src-tip" role="tooltip" id="src-tip-{j}">{escape(_sentence_tip(link))}</span></span>'


def highlight_findings(text: str, findings: Iterable[Any]) -> SafeString:
    """Plain text (escaped) with the findings' spans marked."""
    findings = list(findings)
    out, pos = [], 0
    for start, end, i, finding in _inline_spans(text, findings):
        out += [escape(text[pos:start]), _mark_open(finding, i), escape(text[start:end]), "</mark>"]
        pos = end
    out.append(escape(text[pos:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece of text is escaped


# Attribution tints (editorial/attribution.py) use markers of their own: one opening marker per label.
_AOPEN = {"agent": "\ue005", "edited": "\ue006", "human": "\ue007"}
_ACLOSE = "\ue004"
_LINE_PREFIX = re.compile(r"[ \t]*(?:#{1,6}[ \t]+|[-*+][ \t]+|\d{1,3}[.)][ \t]+|>[ \t]?)*")
ATTRIBUTION_TITLES = {"agent": "Written by the agent, kept by people", "edited": "Agent text rewritten by a person",
                      "human": "Written by a person"}


def render_markdown_with_attribution(text: str, spans: Iterable[tuple[int, int, str]]) -> SafeString:
    """Rendered Markdown with each stretch tinted by who wrote it (`<span class="attr attr-<label>">`).
    Stretches are cut at line ends and start after a line's Markdown markers, so headings, lists and
    quotes still render."""
    # The text's own private-use characters must not pass for markers (one for one: offsets stay).
    text = text.translate({ord(m): "\ufffd" for m in (*_AOPEN.values(), _ACLOSE)})
    marks: list[tuple[int, int, str]] = []
    for start, end, label in spans:
        if label not in _AOPEN or not 0 <= start < end <= len(text):
            continue
        pos = start
        while pos < end:
            line_end = text.find("\n", pos, end)
            piece_end = end if line_end == -1 else line_end
            if pos == 0 or text[pos - 1] == "\n":
                pos = _LINE_PREFIX.match(text, pos, piece_end).end()
            piece = text[pos:piece_end]
            if piece.strip():  # the tint covers words, not the spaces around them
                lead = len(piece) - len(piece.lstrip())
                marks.append((pos + lead, pos + len(piece.rstrip()), label))
            pos = piece_end + 1 if line_end != -1 else end
    out, pos = [], 0
    for start, end, label in marks:
        out += [text[pos:start], _AOPEN[label], text[start:end], _ACLOSE]
        pos = end
    out.append(text[pos:])
    html = str(render_markdown("".join(out)))
    for label, marker in _AOPEN.items():
        html = html.replace(marker, f'<span class="attr attr-{label}" title="{ATTRIBUTION_TITLES[label]}">')
    html = html.replace(_ACLOSE, "</span>")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS | {"span"},
        attributes={"a": {"href", "title"}, "span": {"class", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above
