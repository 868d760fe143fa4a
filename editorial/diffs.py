"""Word-level diffs between two revisions, and the line model the diff page draws from them.

difflib's SequenceMatcher is very slow on long lists of word tokens in which a few tokens (spaces,
"the") recur thousands of times: over whole texts, two 10,000-word revisions took about 36 s. So the
texts are compared line by line first, then sentence by sentence inside the changed lines, and only
the sentences that differ are compared word by word (about 20 ms for 10,000 words with 5% changed).

When the edits are spread evenly (a few words in every paragraph), little is left unchanged at the line
and sentence levels and one word-level comparison covers most of the text. difflib then finds its
matching blocks by asking for the longest match in a range, recursively, and each ask reads every
pair of equal tokens in that range again; the ranges shrink slowly, so a 10,000-word text read its
pairs a few hundred thousand times over. `_Matcher` gives exactly difflib's answers (same blocks, same
tie-breaking) but, for long ranges, looks them up among the diagonal runs of equal tokens found in
one pass, longest first.
"""
from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from editorial.sections import preamble, split_sections

# Word-level units carry the whitespace after them: that halves the tokens and keeps difflib from
# anchoring on spaces, which recur everywhere. Units are compared without that whitespace.
_UNIT = re.compile(r"\s+|(?:\w+(?:['’]\w+)*|[^\w\s])\s*")
_LINE_END = re.compile(r"\n")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*[ \t]+|\n")

# Past this many tokens in one changed stretch (a wall of text without sentences), let difflib
# treat very frequent tokens as junk: a coarser diff, but it stays fast.
_AUTOJUNK_FROM = 4000

# Ranges of at least this many tokens of the first text are answered from the runs (see _Matcher).
_RUNS_FROM = 400
# Runs shorter than this are not collected; a range whose longest match is shorter is left to difflib.
_RUN_MIN = 8
# A text that repeats one stretch many times has too many equal windows to be worth collecting.
_RUN_HITS_PER_TOKEN = 8

FOLD_CONTEXT = 2  # unchanged lines kept visible at each end of a folded stretch
FOLD_MIN_HIDDEN = 3  # fold only when at least this many lines would be hidden


@dataclass(frozen=True)
class DiffOp:
    op: str  # "equal" | "insert" | "delete"
    text: str

    @property
    def is_break(self) -> bool:
        """An added or removed line break only, invisible unless marked."""
        return self.op != "equal" and "\n" in self.text and not self.text.strip()


@dataclass(frozen=True)
class DiffRow:
    """One row of the side-by-side view: a line of the old text and the line it pairs with."""

    left: tuple[DiffOp, ...] | None  # None: no line on this side
    right: tuple[DiffOp, ...] | None
    left_no: int | None
    right_no: int | None

    @property
    def changed(self) -> bool:
        return self.left is None or self.right is None or any(s.op != "equal" for s in self.left + self.right)


@dataclass(frozen=True)
class DiffChunk:
    """A stretch that ends where both texts break the line at the same place: one line when
    unchanged, a changed line or several when not."""

    ops: tuple[DiffOp, ...]  # inline view, without the closing line break
    rows: tuple[DiffRow, ...]  # side-by-side view
    changed: bool

    @property
    def blank(self) -> bool:
        return not self.changed and not "".join(op.text for op in self.ops).strip()


@dataclass(frozen=True)
class DiffBlock:
    folded: bool
    chunks: tuple[DiffChunk, ...]
    hidden_lines: int = 0  # non-blank lines inside a fold


@dataclass(frozen=True)
class SectionChanges:
    changed: int  # sections (## headings) whose text differs, added or removed
    added: int
    removed: int


@dataclass(frozen=True)
class WordDiff:
    ops: list[DiffOp]
    words_added: int
    words_removed: int
    sections_changed: int = 0
    sections_added: int = 0
    sections_removed: int = 0

    @property
    def has_changes(self) -> bool:
        return any(op.op != "equal" for op in self.ops)

    @cached_property
    def blocks(self) -> list[DiffBlock]:
        return fold(chunks(self.ops))


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def _cut(text: str, boundary: re.Pattern[str]) -> list[str]:
    """Split after each boundary match, keeping every character."""
    pieces, start = [], 0
    for match in boundary.finditer(text):
        pieces.append(text[start:match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


_LEVELS = (
    lambda text: _cut(text, _LINE_END),
    lambda text: _cut(text, _SENTENCE_END),
    _UNIT.findall,
)


def _push(ops: list[DiffOp], op: str, text: str) -> None:
    if not text:
        return
    if ops and ops[-1].op == op:
        ops[-1] = DiffOp(op, ops[-1].text + text)
    else:
        ops.append(DiffOp(op, text))


def _key(unit: str) -> str:
    return unit.rstrip() or unit


def _push_replace(ops: list[DiffOp], old: str, new: str) -> None:
    # "brown " → "red ": the space both keep is not part of the change.
    tail = len(old) - len(old.rstrip())
    tail = min(tail, len(new) - len(new.rstrip()))
    while tail and old[-tail:] != new[-tail:]:
        tail -= 1
    _push(ops, "delete", old[: len(old) - tail])
    _push(ops, "insert", new[: len(new) - tail])
    _push(ops, "equal", old[len(old) - tail:])


class _Matcher(difflib.SequenceMatcher):
    """difflib.SequenceMatcher with the same results, faster on long sequences.

    `find_longest_match` on a range is the longest stretch of a diagonal run of equal, non-junk tokens
    inside it (earliest in the first text, then in the second, on ties), extended over junk as difflib
    does. The long runs are found once, by hashing windows of _RUN_MIN tokens, and kept by length; a
    long range then only looks at runs at least as long as the best found so far. A short range, one
    whose longest match is shorter than _RUN_MIN, or one in which that would mean looking at more runs
    than difflib reads pairs, is left to difflib.
    """

    _runs: list[tuple[int, list[tuple[int, int]]]] | None = None  # (length, [(i, j) starts]), longest first

    def set_seq1(self, a: Any) -> None:
        super().set_seq1(a)
        self._runs = None

    def set_seq2(self, b: Any) -> None:
        super().set_seq2(b)
        self._runs = None

    def find_longest_match(self, alo: int = 0, ahi: int | None = None, blo: int = 0, bhi: int | None = None):
        ahi = len(self.a) if ahi is None else ahi
        bhi = len(self.b) if bhi is None else bhi
        if ahi - alo < _RUNS_FROM or bhi - blo < _RUNS_FROM:
            return super().find_longest_match(alo, ahi, blo, bhi)
        if self._runs is None:
            self._runs = self._find_runs()
        if not self._runs:
            return super().find_longest_match(alo, ahi, blo, bhi)
        budget = 4 * (ahi - alo)  # about what difflib's own scan of the range would cost
        besti, bestj, bestsize = alo, blo, 0
        for length, starts in self._runs:
            if length < bestsize:
                break
            budget -= len(starts)
            if budget < 0:
                return super().find_longest_match(alo, ahi, blo, bhi)
            for si, sj in starts:
                # The part of the run (si, sj) … (si + length - 1, sj + length - 1) inside the range.
                lo = max(si, alo, si + blo - sj)
                size = min(si + length, ahi, si + bhi - sj) - lo
                if size > bestsize or (size == bestsize and size > 0
                                       and (lo < besti or (lo == besti and lo + sj - si < bestj))):
                    besti, bestj, bestsize = lo, lo + sj - si, size
        if bestsize < _RUN_MIN:  # shorter runs were not collected: one of them may be the answer
            return super().find_longest_match(alo, ahi, blo, bhi)
        return self._extend(alo, ahi, blo, bhi, besti, bestj, bestsize)

    def _find_runs(self) -> list[tuple[int, list[tuple[int, int]]]]:
        """The maximal diagonal runs of at least _RUN_MIN equal tokens that difflib may match (tokens in
        `b2j`: neither junk nor popular), found through the runs' _RUN_MIN-token windows."""
        a, b, m, b2j = self.a, self.b, _RUN_MIN, self.b2j
        windows: defaultdict[tuple, list[int]] = defaultdict(list)
        clear = 0  # how many tokens up to j are in b2j without a break
        for j, token in enumerate(b):
            clear = clear + 1 if token in b2j else 0
            if clear >= m:
                windows[tuple(b[j - m + 1:j + 1])].append(j - m + 1)
        get = windows.get
        room = _RUN_HITS_PER_TOKEN * (len(a) + len(b))
        by_length: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        running: dict[int, list[int]] = {}  # diagonal j - i -> [first, last] i of its latest window run
        for i in range(len(a) - m + 1):
            found = get(tuple(a[i:i + m]))
            if not found:
                continue
            room -= len(found)
            if room < 0:  # the same stretch over and over: leave it all to difflib
                return []
            for j in found:
                run = running.get(j - i)
                if run is not None and run[1] == i - 1:
                    run[1] = i
                    continue
                if run is not None:
                    by_length[run[1] - run[0] + m].append((run[0], run[0] + j - i))
                running[j - i] = [i, i]
        for diagonal, (first, last) in running.items():
            by_length[last - first + m].append((first, first + diagonal))
        for starts in by_length.values():
            starts.sort()
        return sorted(by_length.items(), reverse=True)

    def _extend(self, alo: int, ahi: int, blo: int, bhi: int, besti: int, bestj: int, bestsize: int):
        """difflib's own widening of the best match, first over equal non-junk, then over equal junk."""
        a, b, isbjunk = self.a, self.b, self.bjunk.__contains__
        while besti > alo and bestj > blo and not isbjunk(b[bestj - 1]) and a[besti - 1] == b[bestj - 1]:
            besti, bestj, bestsize = besti - 1, bestj - 1, bestsize + 1
        while (besti + bestsize < ahi and bestj + bestsize < bhi and not isbjunk(b[bestj + bestsize])
               and a[besti + bestsize] == b[bestj + bestsize]):
            bestsize += 1
        while besti > alo and bestj > blo and isbjunk(b[bestj - 1]) and a[besti - 1] == b[bestj - 1]:
            besti, bestj, bestsize = besti - 1, bestj - 1, bestsize + 1
        while (besti + bestsize < ahi and bestj + bestsize < bhi and isbjunk(b[bestj + bestsize])
               and a[besti + bestsize] == b[bestj + bestsize]):
            bestsize += 1
        return difflib.Match(besti, bestj, bestsize)


def _diff(old: str, new: str, level: int, ops: list[DiffOp]) -> None:
    a, b = _LEVELS[level](old), _LEVELS[level](new)
    last = level == len(_LEVELS) - 1
    if not last:
        # A blank line matches every other blank line; alone it is no evidence that two stretches
        # correspond, so it may only extend a match of real text.
        matcher = _Matcher(str.isspace, a, b, autojunk=False)
    else:
        matcher = _Matcher(a=[_key(u) for u in a], b=[_key(u) for u in b],
                                          autojunk=len(a) + len(b) > _AUTOJUNK_FROM)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" and not last:
            _push(ops, "equal", "".join(a[i1:i2]))
        elif tag == "equal":
            for x, y in zip(a[i1:i2], b[j1:j2]):  # same word, perhaps followed by other whitespace
                if x == y:
                    _push(ops, "equal", x)
                else:
                    _push(ops, "equal", _key(x))
                    _push_replace(ops, x[len(_key(x)):], y[len(_key(y)):])
        elif tag == "replace" and not last:
            _diff("".join(a[i1:i2]), "".join(b[j1:j2]), level + 1, ops)
        elif tag == "replace":
            _push_replace(ops, "".join(a[i1:i2]), "".join(b[j1:j2]))
        else:
            _push(ops, "delete", "".join(a[i1:i2]))
            _push(ops, "insert", "".join(b[j1:j2]))


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading, text) for each `## ` section; text before the first heading is a section too."""
    first = preamble(text)
    return ([("", first)] if first else []) + [(s.heading, s.body) for s in split_sections(text)]


def section_changes(old: str, new: str) -> SectionChanges:
    """Sections are matched by heading, in order; a renamed heading counts as one changed section."""
    a, b = _sections(old), _sections(new)
    matcher = difflib.SequenceMatcher(a=[h for h, _ in a], b=[h for h, _ in b], autojunk=False)
    changed = added = removed = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            changed += sum(a[i][1] != b[j][1] for i, j in zip(range(i1, i2), range(j1, j2)))
            continue
        paired = min(i2 - i1, j2 - j1)
        removed += (i2 - i1) - paired
        added += (j2 - j1) - paired
        changed += paired
    return SectionChanges(changed=changed + added + removed, added=added, removed=removed)


def word_diff(old: str, new: str) -> WordDiff:
    ops: list[DiffOp] = []
    if old == new:
        _push(ops, "equal", old)
    else:
        _diff(old, new, 0, ops)
    sections = section_changes(old, new)
    return WordDiff(
        ops=ops,
        words_added=sum(_words(op.text) for op in ops if op.op == "insert"),
        words_removed=sum(_words(op.text) for op in ops if op.op == "delete"),
        sections_changed=sections.changed,
        sections_added=sections.added,
        sections_removed=sections.removed,
    )


def _keeps_text(line: list[DiffOp]) -> bool:
    return any(op.op == "equal" and op.text.strip() for op in line)


def _pair(olds: list[list[DiffOp]], news: list[list[DiffOp]]) -> list[tuple[list[DiffOp] | None, list[DiffOp] | None]]:
    """Pair the lines of a changed stretch in order. A line that keeps some text is paired with the
    next line on the other side that keeps some too; a wholly removed or added line only with another
    such line, so that a deleted paragraph does not sit next to an edited one."""
    pairs: list[tuple[list[DiffOp] | None, list[DiffOp] | None]] = []
    i = j = 0
    while i < len(olds) and j < len(news):
        old_keeps, new_keeps = _keeps_text(olds[i]), _keeps_text(news[j])
        if old_keeps == new_keeps:
            pairs.append((olds[i], news[j]))
            i, j = i + 1, j + 1
        elif not old_keeps:
            pairs.append((olds[i], None))
            i += 1
        else:
            pairs.append((None, news[j]))
            j += 1
    pairs.extend((line, None) for line in olds[i:])
    pairs.extend((None, line) for line in news[j:])
    return pairs


def chunks(ops: list[DiffOp]) -> list[DiffChunk]:
    """Cut the diff where both texts have the same line break: an unchanged line is a chunk of its
    own; changed lines run on until both texts break a line at the same place again."""
    result: list[DiffChunk] = []
    inline: list[DiffOp] = []
    old_lines: list[list[DiffOp]] = []
    new_lines: list[list[DiffOp]] = []
    old_cur: list[DiffOp] = []
    new_cur: list[DiffOp] = []
    numbers = [0, 0]

    def close(*, at_end: bool) -> None:
        nonlocal inline, old_lines, new_lines, old_cur, new_cur
        if at_end:  # a text ending in a line break has no further line
            olds = old_lines + ([old_cur] if old_cur else [])
            news = new_lines + ([new_cur] if new_cur else [])
        else:
            olds, news = old_lines + [old_cur], new_lines + [new_cur]
        rows = []
        for left, right in _pair(olds, news):
            left_no = right_no = None
            if left is not None:
                numbers[0] += 1
                left_no = numbers[0]
            if right is not None:
                numbers[1] += 1
                right_no = numbers[1]
            rows.append(DiffRow(
                left=tuple(left) if left is not None else None,
                right=tuple(right) if right is not None else None,
                left_no=left_no, right_no=right_no,
            ))
        if rows:
            changed = any(op.op != "equal" for op in inline) or any(r.changed for r in rows)
            result.append(DiffChunk(ops=tuple(inline), rows=tuple(rows), changed=changed))
        inline, old_lines, new_lines, old_cur, new_cur = [], [], [], [], []

    for op in ops:
        parts = op.text.split("\n")
        for k, part in enumerate(parts):
            if part:
                _push(inline, op.op, part)
                if op.op != "insert":
                    _push(old_cur, op.op, part)
                if op.op != "delete":
                    _push(new_cur, op.op, part)
            if k == len(parts) - 1:
                continue
            if op.op == "equal":
                close(at_end=False)
            elif op.op == "delete":
                _push(inline, "delete", "\n")
                old_lines.append(old_cur)
                old_cur = []
            else:
                _push(inline, "insert", "\n")
                new_lines.append(new_cur)
                new_cur = []
    if inline or old_lines or new_lines:
        close(at_end=True)
    return result


def fold(chunks: list[DiffChunk], *, context: int = FOLD_CONTEXT, min_hidden: int = FOLD_MIN_HIDDEN) -> list[DiffBlock]:
    """Long unchanged stretches keep `context` lines at each end; the rest folds away. Blank
    lines neither count nor serve as context."""
    blocks: list[DiffBlock] = []
    shown: list[DiffChunk] = []
    run: list[DiffChunk] = []

    def flush_run() -> None:
        text_lines = [i for i, c in enumerate(run) if not c.blank]
        hidden = len(text_lines) - 2 * context
        if hidden >= min_hidden:
            head_end = text_lines[context - 1] + 1 if context else 0
            tail_start = text_lines[-context] if context else len(run)
            shown.extend(run[:head_end])
            if shown:
                blocks.append(DiffBlock(folded=False, chunks=tuple(shown)))
            blocks.append(DiffBlock(folded=True, chunks=tuple(run[head_end:tail_start]), hidden_lines=hidden))
            shown[:] = run[tail_start:]
        else:
            shown.extend(run)
        run.clear()

    for chunk in chunks:
        if chunk.changed:
            flush_run()
            shown.append(chunk)
        else:
            run.append(chunk)
    flush_run()
    if shown:
        blocks.append(DiffBlock(folded=False, chunks=tuple(shown)))
    return blocks
