"""Word-level diffs between two revisions (difflib over word and whitespace tokens)."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s+|\w+(?:['’]\w+)*|[^\w\s]")


@dataclass(frozen=True)
class DiffOp:
    op: str  # "equal" | "insert" | "delete"
    text: str


@dataclass(frozen=True)
class WordDiff:
    ops: list[DiffOp]
    words_added: int
    words_removed: int


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def word_diff(old: str, new: str) -> WordDiff:
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    ops: list[DiffOp] = []
    added = removed = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append(DiffOp("equal", "".join(a[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            text = "".join(a[i1:i2])
            removed += _words(text)
            ops.append(DiffOp("delete", text))
        if tag in ("insert", "replace"):
            text = "".join(b[j1:j2])
            added += _words(text)
            ops.append(DiffOp("insert", text))
    return WordDiff(ops=ops, words_added=added, words_removed=removed)
