"""The brand knowledge base: uploads (text, Markdown, HTML), chunks, embeddings and retrieval.

Chunks of one brand may come from embedders of different dimensions (the local model is 384-d; an
OpenAI-compatible endpoint has its own). Each dimension in use has its own partial HNSW index over
`embedding::vector(N)`, created the first time a document of that dimension is stored, and a query
casts the same way and filters `dimensions = N` so that the planner can use it.

A brand is usually a small fraction of all chunks. A plain HNSW scan visits `ef_search` candidates
and then filters, so a 1 % brand would get back about 1 % of k rows; pgvector's iterative scans
(`hnsw.iterative_scan`) keep scanning until k rows pass the filter (or `max_scan_tuples` is hit).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone
from pgvector.django import CosineDistance, VectorField

from agents.embeddings import chunk_text, embed, embedder_name, is_local
from agents.injection import is_flagged
from agents.models import KnowledgeChunk, KnowledgeDocument
from editorial.models import SourceChange
from editorial.sourceflags import source_flags_raise
from governance.audit import audit_log
from governance.models import Brand
from governance.permissions import brands_for_user, knowledge_policy

log = logging.getLogger(__name__)

# pgvector's HNSW index takes vectors of up to 2,000 dimensions; larger ones are searched exactly.
HNSW_MAX_DIM = 2000
FORMATS = {"text": "Plain text", "markdown": "Markdown", "html": "HTML"}
EXTENSIONS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html",
              ".htm": "html"}
MAX_TITLE = 200


# --- reading uploads -------------------------------------------------------------------------------

class _TextExtractor(HTMLParser):
    """HTML → plain text. Only character data is kept: no element, attribute, script or style survives,
    and nothing is fetched or run. Block elements become paragraph breaks (which chunking splits on)."""

    SKIP = {"script", "style", "template", "noscript", "head", "title", "svg", "math", "iframe", "object",
            "canvas"}
    BLOCK = {"p", "div", "section", "article", "header", "footer", "aside", "main", "nav", "h1", "h2", "h3", "h4",
             "h5", "h6", "ul", "ol", "li", "table", "tr", "blockquote", "pre", "figure", "figcaption", "dl", "dt",
             "dd", "hr", "form", "address", "details", "summary"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


# The HNSW graph of every knowledge index (migration agents/0005 for 384-d, ensure_dimension_index for
# others). benches/retrieval.py at 1M clustered chunks: m 16 / ef_construction 64 plateaued at
# recall@10 ≈ 0.93 whatever ef_search; 24 / 128 reaches 0.995–1.0 at p95 6–7 ms (build 578 s vs 382 s).
HNSW_M = 24
HNSW_EF_CONSTRUCTION = 128


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return _tidy("".join(parser.parts))  # character references were already decoded by the parser


def _tidy(text: str) -> str:
    """Normalise line ends and blank lines; collapse runs of spaces inside lines."""
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationError("This file is not text (it looks binary). Upload a .txt, .md or .html file.",
                              code="wrong_type")
    for encoding in ("utf-8-sig", "utf-16") if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError("This file could not be read as UTF-8 text. Save it as UTF-8 and upload it again.",
                          code="undecodable")


def format_for_filename(name: str) -> str:
    suffix = PurePath(name or "").suffix.lower()
    if suffix not in EXTENSIONS:
        shown = suffix or "no extension"
        raise ValidationError(
            f"Files of this type ({shown}) cannot be added. Upload plain text (.txt), Markdown (.md) or HTML (.html).",
            code="wrong_type",
        )
    return EXTENSIONS[suffix]


def read_source(*, data: bytes | None = None, filename: str = "", text: str | None = None,
                source_format: str = "") -> tuple[str, str]:
    """(plain text, format) of an uploaded file or pasted text; ValidationError with a clear message
    when it is empty, too big, of the wrong type or not decodable."""
    limit = settings.AIOS_KNOWLEDGE_MAX_BYTES
    if data is not None:
        if len(data) > limit:
            raise ValidationError(f"The file is too big ({len(data):,} bytes); the limit is {limit:,} bytes.",
                                  code="too_big")
        source_format = format_for_filename(filename)
        raw = _decode(data)
    else:
        raw = text or ""
        if len(raw.encode()) > limit:
            raise ValidationError(f"The text is too long; the limit is {limit:,} bytes.", code="too_big")
        source_format = source_format or "text"
        if source_format not in FORMATS:
            raise ValidationError(f"Unknown format “{source_format}”.", code="wrong_type")
    body = html_to_text(raw) if source_format == "html" else _tidy(raw)
    if not body:
        raise ValidationError("The document is empty: there is no text in it.", code="empty")
    return body, source_format


# --- the per-dimension HNSW index ------------------------------------------------------------------

_indexed_dims: set[int] = set()


def index_name(dimensions: int) -> str:
    return f"chunk_embedding_{int(dimensions)}_hnsw"


def ensure_dimension_index(dimensions: int) -> bool:
    """Create the partial HNSW index for chunks of `dimensions` if it does not exist yet.

    Idempotent: a process remembers the dimensions it checked, concurrent creators are serialised by
    an advisory lock, and the DDL itself says IF NOT EXISTS. Call inside the transaction that stores
    the first chunks (an index on an empty slice is instant). Returns whether an index applies."""
    n = int(dimensions)
    if n > HNSW_MAX_DIM:
        return False  # searched exactly (still filtered by brand and dimension)
    if n in _indexed_dims:
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE tablename = 'agents_knowledgechunk' AND indexname = %s",
                       [index_name(n)])
        if cursor.fetchone() is None:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('agents.chunk_index'), %s)", [n])
            # CREATE INDEX refuses a table with deferred foreign-key checks still pending from rows
            # written earlier in this transaction: run those checks now, then defer again.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # n is an int, so formatting it into the DDL is safe (DDL takes no parameters).
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {index_name(n)} ON agents_knowledgechunk "
                f"USING hnsw ((embedding::vector({n})) vector_cosine_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
                f"WHERE dimensions = {n}"
            )
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            log.info("created the HNSW index for %s-dimensional knowledge chunks", n)
    # Remembered once committed: a rolled-back transaction takes its new index with it.
    transaction.on_commit(lambda: _indexed_dims.add(n))
    return True


# --- writes ----------------------------------------------------------------------------------------

def _check_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError({"title": "Give the document a title."})
    if len(title) > MAX_TITLE:
        raise ValidationError({"title": f"The title is longer than {MAX_TITLE} characters."})
    return title


@transaction.atomic
def document_ingest(*, brand: Any, title: str, body: str, user: Any = None, source_format: str = "text",
                    expires_at: datetime | None = None) -> KnowledgeDocument:
    """Store a document (plain text) and its embedded chunks, searchable at once."""
    if not body.strip():
        raise ValidationError("The document is empty: there is no text in it.")
    pieces = chunk_text(body)
    vectors = embed(pieces)  # before any write: a failing endpoint leaves nothing behind
    dims = len(vectors[0])
    ensure_dimension_index(dims)
    document = KnowledgeDocument.objects.create(
        brand=brand, title=title, body=body, source_format=source_format, created_by=user,
        embedding_model=embedder_name(), expires_at=expires_at,
    )
    _chunks_create(document, pieces, vectors)
    audit_log(action="agents.document.ingest", obj=document, user=user,
              data={"brand": brand.pk, "title": title, "chunks": len(pieces), "format": source_format,
                    "embedding_model": document.embedding_model, "dimensions": dims,
                    "expires_at": expires_at})
    return document


def _chunks_create(document: KnowledgeDocument, pieces: list[str], vectors: list[list[float]]) -> None:
    KnowledgeChunk.objects.bulk_create([
        # Instruction-like text in a source is kept but flagged: the check step tells the editor.
        KnowledgeChunk(document=document, brand=document.brand, index=i, text=text, embedding=vector,
                       dimensions=len(vector), flagged=is_flagged(text))
        for i, (text, vector) in enumerate(zip(pieces, vectors, strict=True))
    ])


@transaction.atomic
def document_edit(*, user: Any, document: KnowledgeDocument, title: str, text: str) -> KnowledgeDocument:
    """A person changes a document's title or text. New text is chunked and embedded again (same
    document), and every piece it grounded is flagged "sources changed" (editorial/sourceflags.py)."""
    if not knowledge_policy.user_has_permission_for_brand(user, "manage", document.brand):
        raise PermissionDenied("You cannot change this brand's knowledge base.")
    title = _check_title(title)
    body, _ = read_source(text=text, source_format="text")
    document = KnowledgeDocument.objects.select_for_update().select_related("brand").get(pk=document.pk)
    if title == document.title and body == document.body:
        raise ValidationError("Nothing changed; the document was not saved.")
    old_title, text_changed = document.title, body != document.body
    flagged = []
    if text_changed:
        pieces = chunk_text(body)
        vectors = embed(pieces)  # before any write, as for an upload
        ensure_dimension_index(len(vectors[0]))
        flagged = source_flags_raise(document=document, kind=SourceChange.Kind.EDITED, user=user)
        document.chunks.all().delete()
        _chunks_create(document, pieces, vectors)
        document.embedding_model = embedder_name()
    document.title, document.body = title, body
    document.save(update_fields=["title", "body", "embedding_model"])
    audit_log(action="agents.document.edit", obj=document, user=user,
              data={"brand": document.brand_id, "title": [old_title, title], "text_changed": text_changed,
                    "chunks": document.chunks.count(), "flagged_drafts": [f.draft_id for f in flagged]})
    return document


def document_upload(*, user: Any, brand: Brand, title: str, data: bytes | None = None, filename: str = "",
                    text: str | None = None, source_format: str = "",
                    expires_at: datetime | None = None) -> KnowledgeDocument:
    """A person adds a file or pasted text to a brand's knowledge base."""
    if not knowledge_policy.user_has_permission_for_brand(user, "manage", brand):
        raise PermissionDenied("You cannot add documents to this brand's knowledge base.")
    title = _check_title(title)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry date is in the past; the document would never be used."})
    if data is None and not (text or "").strip():
        raise ValidationError("Choose a file or paste some text.", code="empty")
    if data is not None and (text or "").strip():
        raise ValidationError("Either upload a file or paste text, not both.")
    body, fmt = read_source(data=data, filename=filename, text=text, source_format=source_format)
    return document_ingest(brand=brand, title=title, body=body, user=user, source_format=fmt, expires_at=expires_at)


@transaction.atomic
def document_expire(*, user: Any, document: KnowledgeDocument) -> KnowledgeDocument:
    """Stop using a document from now on (it stays listed, marked expired)."""
    if not knowledge_policy.user_has_permission_for_brand(user, "manage", document.brand):
        raise PermissionDenied("You cannot change this brand's knowledge base.")
    document = KnowledgeDocument.objects.select_for_update().get(pk=document.pk)
    now = timezone.now()
    if document.expires_at is not None and document.expires_at <= now:
        raise ValidationError("This document has already expired.")
    old = document.expires_at
    source_flags_raise(document=document, kind=SourceChange.Kind.EXPIRED, user=user)
    document.expires_at = now
    document.save(update_fields=["expires_at"])
    audit_log(action="agents.document.expire", obj=document, user=user,
              data={"brand": document.brand_id, "expires_at": [old, now]})
    return document


@transaction.atomic
def document_set_expiry(*, user: Any, document: KnowledgeDocument, expires_at: datetime | None) -> KnowledgeDocument:
    """Change when a document stops being used (None: never)."""
    if not knowledge_policy.user_has_permission_for_brand(user, "manage", document.brand):
        raise PermissionDenied("You cannot change this brand's knowledge base.")
    document = KnowledgeDocument.objects.select_for_update().get(pk=document.pk)
    old = document.expires_at
    if old == expires_at:
        return document
    now = timezone.now()
    if expires_at is not None and expires_at <= now and (old is None or old > now):
        source_flags_raise(document=document, kind=SourceChange.Kind.EXPIRED, user=user)
    document.expires_at = expires_at
    document.save(update_fields=["expires_at"])
    audit_log(action="agents.document.expiry", obj=document, user=user,
              data={"brand": document.brand_id, "expires_at": [old, expires_at]})
    return document


@transaction.atomic
def document_delete(*, user: Any, document: KnowledgeDocument) -> None:
    """Remove a document and its chunks. Revisions keep the title and score they were written with."""
    if not knowledge_policy.user_has_permission_for_brand(user, "manage", document.brand):
        raise PermissionDenied("You cannot change this brand's knowledge base.")
    document = KnowledgeDocument.objects.select_for_update().filter(pk=document.pk).first()
    if document is None:
        return
    chunks = document.chunks.count()
    source_flags_raise(document=document, kind=SourceChange.Kind.DELETED, user=user)
    audit_log(action="agents.document.delete", obj=document, user=user,
              data={"brand": document.brand_id, "title": document.title, "chunks": chunks,
                    "briefs": list(document.briefs.values_list("pk", flat=True))})
    document.briefs.clear()
    document.delete()


# --- reads -----------------------------------------------------------------------------------------

def _comparable_models() -> list[str]:
    # Documents stored before the embedder was recorded were all embedded by the local model.
    name = embedder_name()
    return [name, ""] if is_local() else [name]


def retrieve(*, brand: Any, query: str, k: int, document_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Top-k chunks of the brand (optionally of chosen documents) by cosine similarity, from documents
    that have not expired and were embedded by the current embedder."""
    vector = embed([query])[0]
    return retrieve_by_vector(brand=brand, vector=vector, k=k, document_ids=document_ids)


def retrieval_queryset(*, brand: Any, vector: list[float], k: int, document_ids: list[int] | None = None) -> QuerySet:
    """The top-k query (values rows with `distance`), before the scan settings are applied."""
    dims = len(vector)
    now = timezone.now()
    # Few documents are unusable (expired, other embedder); excluding their ids keeps every condition
    # on the chunk row itself, which the index scan can check as it goes.
    unusable = list(
        KnowledgeDocument.objects.filter(brand=brand)
        .filter(Q(expires_at__lte=now) | ~Q(embedding_model__in=_comparable_models()))
        .values_list("pk", flat=True)
    )
    chunks = KnowledgeChunk.objects.filter(brand=brand, dimensions=dims)
    if unusable:
        chunks = chunks.exclude(document_id__in=unusable)
    if document_ids:
        chunks = chunks.filter(document_id__in=document_ids)
    # The cast matches the partial HNSW index of this dimension.
    distance = CosineDistance(Cast("embedding", VectorField(dimensions=dims)), vector)
    return chunks.annotate(distance=distance).order_by("distance").values(
        "pk", "document_id", "document__title", "text", "flagged", "distance"
    )[:k]


def scan_settings(k: int) -> None:
    """pgvector iterative index scans for this transaction (SET LOCAL): a filtered query keeps
    scanning the HNSW graph until k rows pass the filter, up to max_scan_tuples."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
            "set_config('hnsw.ef_search', %s, true), set_config('hnsw.max_scan_tuples', %s, true)",
            [str(max(settings.AIOS_RETRIEVE_EF_SEARCH, k)), str(settings.AIOS_RETRIEVE_MAX_SCAN_TUPLES)],
        )


def brand_is_small(*, brand: Any, dimensions: int) -> bool:
    """Whether the brand has few enough chunks of this dimension to be searched exactly (bounded count)."""
    limit = settings.AIOS_RETRIEVE_EXACT_BELOW
    if limit <= 0:
        return False
    return KnowledgeChunk.objects.filter(brand=brand, dimensions=dimensions).values("pk")[: limit + 1].count() <= limit


def exact_settings() -> None:
    """For this transaction, no ordered index scan: the brand's rows come through its btree (a bitmap
    scan) and every distance is computed, which for a small brand is both exact and faster."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('enable_indexscan', 'off', true)")


def retrieve_by_vector(*, brand: Any, vector: list[float], k: int,
                       document_ids: list[int] | None = None) -> list[dict[str, Any]]:
    # Relaxed order means the scan hands rows over nearly, not exactly, by distance: a few more than k
    # are fetched, sorted exactly, and the best k kept (benches/retrieval.py measures the difference).
    fetch = k * settings.AIOS_RETRIEVE_OVERFETCH
    query = retrieval_queryset(brand=brand, vector=vector, k=fetch, document_ids=document_ids)
    with transaction.atomic():  # SET LOCAL lasts until the end of this transaction only
        if brand_is_small(brand=brand, dimensions=len(vector)):
            exact_settings()
        else:
            scan_settings(fetch)
        rows = list(query)
    rows = sorted(rows, key=lambda r: r["distance"])[:k]
    return [
        {
            "chunk_id": r["pk"],
            "document_id": r["document_id"],
            "title": r["document__title"],
            "score": round(1.0 - float(r["distance"]), 4),
            "text": r["text"],
            "flagged": r["flagged"],
        }
        for r in rows
    ]


@dataclass
class Freshness:
    state: str  # "fresh", "expiring" (within a week), "expired"
    label: str


def freshness(document: KnowledgeDocument, *, now: datetime | None = None) -> Freshness:
    now = now or timezone.now()
    if document.expires_at is None:
        return Freshness("fresh", "no expiry")
    if document.expires_at <= now:
        return Freshness("expired", "expired")
    seconds = (document.expires_at - now).total_seconds()
    days = int(seconds // 86400)
    if days == 0:
        hours = max(1, int(seconds // 3600))
        return Freshness("expiring", f"expires in {hours} hour{'s' if hours != 1 else ''}")
    if days > 60:
        last_day = timezone.localtime(document.expires_at - timedelta(microseconds=1))  # see forms.expires_at
        return Freshness("fresh", f"used until {last_day:%Y-%m-%d}")
    return Freshness("expiring" if days < 7 else "fresh", f"expires in {days} day{'s' if days != 1 else ''}")


def brand_get_for_knowledge(*, user: Any, slug: str, action: str = "view") -> Brand:
    """404 for a brand the user may not see (its existence is not revealed), 403 for `manage`
    without the permission."""
    brand = brands_for_user(user).filter(slug=slug).first()
    if brand is None or not knowledge_policy.user_has_permission_for_brand(user, "view", brand):
        raise Http404("No such brand.")
    if action != "view" and not knowledge_policy.user_has_permission_for_brand(user, action, brand):
        raise PermissionDenied("You may not change this brand's knowledge base.")
    return brand


def document_get_for_user(*, user: Any, slug: str, pk: int, action: str = "view") -> KnowledgeDocument:
    brand = brand_get_for_knowledge(user=user, slug=slug, action=action)
    document = KnowledgeDocument.objects.filter(brand=brand, pk=pk).select_related("brand").first()
    if document is None:
        raise Http404("No such document.")
    return document


def documents_for_brand(brand: Brand) -> QuerySet[KnowledgeDocument]:
    return (
        KnowledgeDocument.objects.filter(brand=brand)
        .select_related("created_by")
        .annotate(chunk_count=Count("chunks"), flagged_count=Count("chunks", filter=Q(chunks__flagged=True)))
        .order_by("title", "pk")
    )
