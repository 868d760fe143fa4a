"""The desk's knowledge base pages: parse → service → render. Access through agents.knowledge."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents import knowledge as kb
from agents.embeddings import EmbeddingError
from agents.forms import KnowledgeEditForm, KnowledgeUploadForm
from agents.injection import source_injection
from editorial.models import SourceChange
from editorial.rendering import highlight_findings
from editorial.sourceflags import pieces_grounded_by
from governance.permissions import brands_for_user, knowledge_policy


@login_required
@require_GET
def knowledge_brands(request: HttpRequest) -> HttpResponse:
    brands = list(brands_for_user(request.user).annotate(document_count=Count("documents")).order_by("name"))
    if len(brands) == 1:
        return redirect("agents:knowledge", slug=brands[0].slug)
    return render(request, "agents/knowledge_brands.html", {"brands": brands})


def _form_errors(form: KnowledgeUploadForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error("file" if form.cleaned_data.get("file") else None, exc.messages)


@login_required
@require_http_methods(["GET", "POST"])
def knowledge(request: HttpRequest, slug: str) -> HttpResponse:
    """A brand's documents (chunks, flagged chunks, freshness) and, for those who may, the upload form."""
    brand = kb.brand_get_for_knowledge(user=request.user, slug=slug,
                                              action="manage" if request.method == "POST" else "view")
    form = KnowledgeUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("file")
        try:
            if upload is not None and upload.size > settings.AIOS_KNOWLEDGE_MAX_BYTES:
                raise ValidationError(f"The file is too big ({upload.size:,} bytes); the limit is "
                                      f"{settings.AIOS_KNOWLEDGE_MAX_BYTES:,} bytes.")
            document = kb.document_upload(
                user=request.user, brand=brand, title=form.cleaned_data["title"],
                data=upload.read() if upload is not None else None, filename=upload.name if upload else "",
                text=None if upload is not None else form.cleaned_data["text"],
                source_format=form.cleaned_data["source_format"], expires_at=form.expires_at(),
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        except EmbeddingError as exc:
            form.add_error(None, f"{exc} Nothing was saved; try again later.")
        else:
            n = document.chunks.count()
            messages.success(request, f"Added “{document.title}” ({n} chunk{'s' if n != 1 else ''}).")
            return redirect("agents:knowledge", slug=brand.slug)
    now = timezone.now()
    documents = list(kb.documents_for_brand(brand))
    for d in documents:
        d.freshness = kb.freshness(d, now=now)
    status = 422 if request.method == "POST" else 200
    return render(request, "agents/knowledge.html", {
        "brand": brand,
        "documents": documents,
        "form": form,
        "can_manage": knowledge_policy.user_has_permission_for_brand(request.user, "manage", brand),
        "max_bytes": settings.AIOS_KNOWLEDGE_MAX_BYTES,
    }, status=status)


def _document_page(request: HttpRequest, document: Any, *, form: KnowledgeEditForm | None = None,
                   status: int = 200) -> HttpResponse:
    chunks = list(document.chunks.order_by("index").only("index", "text", "flagged", "dimensions"))
    for c in chunks:
        c.html = highlight_findings(c.text, source_injection(c.text)) if c.flagged else None
    can_manage = knowledge_policy.user_has_permission_for_brand(request.user, "manage", document.brand)
    pieces = pieces_grounded_by(document_id=document.pk, brand_id=document.brand_id)
    return render(request, "agents/knowledge_document.html", {
        "brand": document.brand,
        "document": document,
        "chunks": chunks,
        "freshness": kb.freshness(document),
        "can_manage": can_manage,
        "pieces": pieces,
        "flagged_ids": [p.draft.pk for p in pieces if p.open_flags],
        "edit_form": form or (KnowledgeEditForm(initial={"title": document.title, "text": document.body})
                              if can_manage else None),
    }, status=status)


@login_required
@require_GET
def knowledge_document(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """One document: the pieces that rest on it (with the sentences it supported and their "sources
    changed" flags), its chunks with instruction-like text highlighted, and, for those who may, its editor."""
    return _document_page(request, kb.document_get_for_user(user=request.user, slug=slug, pk=pk))


@login_required
@require_POST
def knowledge_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    document = kb.document_get_for_user(user=request.user, slug=slug, pk=pk, action="manage")
    form = KnowledgeEditForm(request.POST)
    if form.is_valid():
        try:
            document = kb.document_edit(user=request.user, document=document, title=form.cleaned_data["title"],
                                        text=form.cleaned_data["text"])
        except ValidationError as exc:
            _form_errors(form, exc)
        except EmbeddingError as exc:
            form.add_error(None, f"{exc} Nothing was saved; try again later.")
        else:
            flagged = SourceChange.objects.filter(document=document, cleared_at__isnull=True,
                                                  kind=SourceChange.Kind.EDITED).values("draft").distinct().count()
            messages.success(request, f"Saved “{document.title}”." + (
                f" {flagged} piece{'s' if flagged != 1 else ''} resting on it {'are' if flagged != 1 else 'is'} "
                "marked “sources changed”." if flagged else ""))
            return redirect("agents:knowledge-document", slug=slug, pk=document.pk)
    return _document_page(request, document, form=form, status=422)


@login_required
@require_POST
def knowledge_expire(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    document = kb.document_get_for_user(user=request.user, slug=slug, pk=pk, action="manage")
    try:
        kb.document_expire(user=request.user, document=document)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, f"“{document.title}” expired: it is no longer used for new drafts. Pieces "
                                  "resting on it are marked “sources changed” in the desk.")
    return redirect("agents:knowledge", slug=slug)


@login_required
@require_POST
def knowledge_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    document = kb.document_get_for_user(user=request.user, slug=slug, pk=pk, action="manage")
    title = document.title
    kb.document_delete(user=request.user, document=document)
    messages.success(request, f"Deleted “{title}” and its chunks. Drafts keep the sources they were written with.")
    return redirect("agents:knowledge", slug=slug)


