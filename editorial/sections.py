"""The `## ` sections of a draft's Markdown: the one place that splits and joins them."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

HEADING = re.compile(r"^## +(.*?)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Section:
    index: int
    heading: str
    body: str  # the text under the heading, stripped
    start: int  # where the text under the heading line begins
    end: int  # where the next `## ` heading (or the content) ends


def split_sections(content: str) -> list[Section]:
    """The `## ` sections of a text, in order. Text before the first heading belongs to none."""
    matches = list(HEADING.finditer(content))
    sections = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(content)
        sections.append(Section(index=i, heading=match.group(1), body=content[match.end():end].strip(),
                                start=match.end(), end=end))
    return sections


def preamble(content: str) -> str:
    """The text before the first `## ` heading (stripped)."""
    match = HEADING.search(content)
    return (content[: match.start()] if match else content).strip()


def join_sections(sections: Iterable[tuple[str, str]]) -> str:
    """A draft's Markdown from (heading, text) pairs: what the pipeline writes."""
    return "\n\n".join(f"## {heading}\n\n{text}" for heading, text in sections)


def replace_section(content: str, section: Section, text: str) -> str:
    """`content` with the body of `section` replaced by `text`; every other character kept."""
    tail = "\n\n" if section.end < len(content) else ""
    return content[: section.start] + "\n\n" + text.strip() + tail + content[section.end:]
