"""Word stems from the Snowball English stemmer (`snowballstemmer`: pure Python, no data files), and
word forms: the stem of a word and the stem of its dictionary lemma (`simplemma`: pure Python, its
dictionaries ship inside the wheel, nothing is downloaded).

Snowball alone strips suffixes: "guaranteed" → "guarante", but "cheaper" stays "cheaper" and
"children" stays "children". The lemma joins comparatives, superlatives and irregular forms to their
base word ("cheapest" → "cheap", "worst" → "bad", "chairmen" → "chairman").

Shared by banned terms (a ban on "guarantee" also catches "guaranteed") and the claims detector
(a retrieved source that says the same thing in other inflections still supports a claim)."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from functools import lru_cache

import simplemma
import snowballstemmer

WORD = re.compile(r"[^\W_]+(?:['’][^\W\d_]+)?")
_local = threading.local()  # a stemmer object keeps state between calls: one per thread


def _stemmer():
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer().stemWord(word.casefold().replace("’", "'"))


@lru_cache(maxsize=65536)
def forms(word: str) -> frozenset[str]:
    """What a word of a text may stand for: "=" + its dictionary lemma ("cheapest" → "=cheap",
    "worst" → "=bad"), and, for a word the dictionary does not know, "~" + its Snowball stem.
    A word the dictionary knows keeps its own lemma, so "disruption" stays apart from "disrupt"."""
    folded = _fold(word)
    found = {"=" + simplemma.lemmatize(folded, lang="en")}
    if not simplemma.is_known(folded, lang="en"):
        found.add("~" + stem(folded))
    return frozenset(found)


@lru_cache(maxsize=4096)
def term_forms(word: str) -> frozenset[str]:
    """The forms a word of a banned term is matched by: "=" + its lemma when that lemma has the same
    stem ("guaranteed" → "=guarantee"; but "best" stays "=best", not "=good"), and "~" + its stem."""
    folded = _fold(word)
    lemma = simplemma.lemmatize(folded, lang="en")
    return frozenset({"=" + (lemma if stem(lemma) == stem(folded) else folded), "~" + stem(folded)})


def _fold(word: str) -> str:
    return word.casefold().replace("’", "'")


def words(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, stem) of each word of `text`."""
    for m in WORD.finditer(text):
        yield m.start(), m.end(), stem(m.group(0))
