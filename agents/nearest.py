"""Nearest-neighbour votes over labelled examples embedded with the local model.

The mechanism behind the triage classifier (`agents/triage.py`) and the source-injection scorer
(`agents/injection.py`): take the k labelled examples nearest to a text (cosine similarity of
normalised all-MiniLM-L6-v2 vectors), let each vote for its label with its similarity as weight
(neighbours below `min_similarity` do not vote), and read a label's confidence as its share of the vote.
Neighbours come from pgvector (`nearest_rows`, one text) or from an in-memory matrix
(`ExampleIndex`, many texts at once).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pgvector.django import CosineDistance

K = 5
MIN_SIMILARITY = 0.15


@dataclass(frozen=True)
class Vote:
    weights: dict[Hashable, float] = field(default_factory=dict)
    voters: int = 0
    top_similarity: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.weights.values())

    def share(self, label: Hashable) -> float:
        return self.weights.get(label, 0.0) / self.total if self.total else 0.0

    def winner(self, *, tie_key: Any = None) -> Hashable | None:
        """The label with the most weight; `tie_key(label)` breaks ties (the greatest wins)."""
        if not self.weights:
            return None
        return max(self.weights, key=lambda label: (self.weights[label], tie_key(label) if tie_key else 0))


def vote(neighbours: Iterable[tuple[Hashable, float]], *, min_similarity: float = MIN_SIMILARITY,
         power: float = 1.0) -> Vote:
    """A similarity-weighted vote of (label, similarity) pairs; each weighs similarity ** `power`, so a
    power above 1 lets a near-duplicate example outvote several loosely similar ones."""
    weights: dict[Hashable, float] = defaultdict(float)
    voters, top = 0, 0.0
    for label, similarity in neighbours:
        if similarity < min_similarity:
            continue
        voters += 1
        weights[label] += similarity ** power
        top = max(top, similarity)
    return Vote(dict(weights), voters, top)


def nearest_rows(queryset: Any, vector: list[float], *, k: int = K, field_name: str = "embedding") -> list[Any]:
    """The k rows of `queryset` nearest to `vector` (pgvector), each with `.similarity`."""
    rows = list(queryset.filter(**{f"{field_name}__isnull": False})
                .annotate(distance=CosineDistance(field_name, vector)).order_by("distance")[:k])
    for row in rows:
        row.similarity = 1.0 - float(row.distance)
    return rows


@dataclass(frozen=True)
class ExampleIndex:
    """Labelled vectors in memory, for voting on many texts at once."""

    matrix: np.ndarray  # examples × dimensions, rows normalised
    labels: tuple[Hashable, ...]

    @classmethod
    def build(cls, vectors: list[list[float]], labels: Iterable[Hashable]) -> ExampleIndex:
        matrix = np.asarray(vectors, dtype=np.float32)
        if not len(vectors):  # no examples yet: an empty index that votes for nothing
            return cls(matrix.reshape(0, 0), ())
        matrix = matrix.reshape(len(vectors), -1)
        if len(matrix):
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return cls(matrix, tuple(labels))

    def __len__(self) -> int:
        return len(self.labels)

    def votes(self, vectors: list[list[float]], *, k: int = K, min_similarity: float = MIN_SIMILARITY,
              power: float = 1.0) -> list[Vote]:
        if not len(self) or not vectors:
            return [Vote() for _ in vectors]
        queries = np.asarray(vectors, dtype=np.float32)
        queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        similarity = queries @ self.matrix.T
        k = min(k, len(self))
        nearest = np.argsort(-similarity, axis=1)[:, :k]
        return [vote(((self.labels[j], float(similarity[i, j])) for j in row), min_similarity=min_similarity,
                     power=power)
                for i, row in enumerate(nearest)]
