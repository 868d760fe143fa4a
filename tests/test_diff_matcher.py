"""editorial.diffs._Matcher must give exactly difflib's answers: the faster lookup of long matches is
an optimisation, never a different diff. Compared here on large random texts against the plain
difflib.SequenceMatcher the diffs used before."""
from __future__ import annotations

import difflib
import random

import pytest

from editorial import diffs

SYLLABLES = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "un", "pe", "ri", "gan", "co", "bu"]
COMMON = ["the", "a", "of", "and", "to", "in", "for", "with", "our", "is", "coffee", "roast", "bean"]


def random_texts(seed: int, *, words: int, vocabulary: int, sentence: int, paragraph: int, changed: float):
    """A text of `words` words in sentences and paragraphs, and an edit of it: some words replaced,
    sentences deleted and inserted, paragraphs moved."""
    rng = random.Random(seed)
    invented = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(vocabulary)]
    vocab = COMMON + invented
    tokens = [rng.choice(vocab) for _ in range(words)]
    edited = list(tokens)
    for i in rng.sample(range(len(edited)), int(len(edited) * changed)):
        edited[i] = rng.choice(vocab) + rng.choice(["", "ed", "s"])
    for _ in range(rng.randint(1, 8)):
        at = rng.randrange(len(edited))
        del edited[at:at + rng.randint(1, 25)]
        edited[at:at] = [rng.choice(vocab) for _ in range(rng.randint(0, 20))]

    def text(ws: list[str]) -> str:
        sentences = [" ".join(ws[i:i + sentence]).capitalize() + rng.choice([".", "!", "?", ";"])
                     for i in range(0, len(ws), sentence)]
        paragraphs = [" ".join(sentences[i:i + paragraph]) for i in range(0, len(sentences), paragraph)]
        if rng.random() < 0.5:
            paragraphs[0] = "## " + paragraphs[0][:30] + "\n\n" + paragraphs[0]
        return "\n\n".join(paragraphs)

    old, new = text(tokens), text(edited)
    if rng.random() < 0.5:  # move a paragraph
        parts = new.split("\n\n")
        parts.insert(rng.randrange(len(parts)), parts.pop(rng.randrange(len(parts))))
        new = "\n\n".join(parts)
    return old, new


def as_data(diff: diffs.WordDiff) -> tuple:
    return ([(op.op, op.text) for op in diff.ops], diff.words_added, diff.words_removed, diff.sections_changed,
            diff.sections_added, diff.sections_removed)


CASES = [
    # seed, words, invented words, words per sentence, sentences per paragraph, share of words changed
    (1, 10_000, 800, 80, 1, 0.03),  # the benchmark's shape: one long sentence per paragraph
    (2, 10_000, 3000, 15, 5, 0.05),
    (3, 6_000, 40, 200, 1, 0.02),  # a small vocabulary: many equal windows
    (4, 8_000, 500, 5000, 1, 0.10),  # walls of text without line breaks
    (5, 4_000, 200, 12, 40, 0.30),  # heavily rewritten
    (6, 3_000, 1000, 20, 3, 0.0),  # only moved and inserted stretches
]


@pytest.mark.parametrize(("seed", "words", "vocabulary", "sentence", "paragraph", "changed"), CASES)
def test_word_diff_is_the_same_as_with_plain_difflib(monkeypatch, seed, words, vocabulary, sentence, paragraph,
                                                     changed):
    old, new = random_texts(seed, words=words, vocabulary=vocabulary, sentence=sentence, paragraph=paragraph,
                            changed=changed)
    fast = diffs.word_diff(old, new)
    monkeypatch.setattr(diffs, "_Matcher", difflib.SequenceMatcher)
    plain = diffs.word_diff(old, new)
    assert as_data(fast) == as_data(plain)
    assert fast.has_changes
    assert "".join(op.text for op in fast.ops if op.op != "insert") == old
    assert "".join(op.text for op in fast.ops if op.op != "delete") == new


@pytest.mark.parametrize("seed", range(40))
def test_the_matcher_finds_the_same_blocks_as_difflib_on_any_range(seed):
    rng = random.Random(seed)
    n = rng.choice([450, 900, 2000])
    alphabet = rng.choice([2, 4, 30, 400])
    a = [str(rng.randrange(alphabet)) for _ in range(n)]
    b = list(a)
    for _ in range(rng.randrange(1, 80)):
        at = rng.randrange(len(b))
        if rng.random() < 0.3:
            b[at:at] = a[rng.randrange(n - 20):][:rng.randint(1, 20)]  # a repeated stretch
        else:
            b[at] = str(rng.randrange(alphabet + 3))
    isjunk = rng.choice([None, "0".__eq__])
    autojunk = rng.random() < 0.5
    plain = difflib.SequenceMatcher(isjunk, a, b, autojunk=autojunk)
    fast = diffs._Matcher(isjunk, a, b, autojunk=autojunk)
    ranges = [(0, len(a), 0, len(b))] + [
        (lo, lo + rng.randint(400, n), lo2, lo2 + rng.randint(400, n))
        for lo, lo2 in ((rng.randrange(n // 2), rng.randrange(n // 2)) for _ in range(5))
    ]
    for alo, ahi, blo, bhi in ranges:
        ahi, bhi = min(ahi, len(a)), min(bhi, len(b))
        assert fast.find_longest_match(alo, ahi, blo, bhi) == plain.find_longest_match(alo, ahi, blo, bhi)
    assert fast.get_opcodes() == plain.get_opcodes()


def test_a_text_that_repeats_one_line_falls_back_to_difflib_and_stays_exact():
    old = "\n".join(["-----"] * 2000 + ["word " * 10] * 500)
    new = old.replace("-----", "--x--", 3)
    matcher = diffs._Matcher(str.isspace, diffs._LEVELS[0](old), diffs._LEVELS[0](new), autojunk=False)
    assert matcher.get_opcodes() == difflib.SequenceMatcher(
        str.isspace, diffs._LEVELS[0](old), diffs._LEVELS[0](new), autojunk=False).get_opcodes()
