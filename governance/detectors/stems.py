"""Word stems from the Snowball English stemmer (`snowballstemmer`: pure Python, no data files).

Shared by banned terms (a ban on "guarantee" also catches "guaranteed") and the claims detector
(a retrieved source that says the same thing in other inflections still supports a claim)."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from functools import lru_cache

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


def words(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, stem) of each word of `text`."""
    for m in WORD.finditer(text):
        yield m.start(), m.end(), stem(m.group(0))
