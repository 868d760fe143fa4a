""""Sources changed": the pieces a knowledge document grounded, and their flags when it changes.

The check step links each sentence of a generated revision to the source chunk that supports it best
(`agents/grounding.py`, stored in the revision's provenance as `sentences`). A person's edits keep
those links: the grounding of a text is the latest revision at or before it that has them. A document
*supported* a piece when one of those links names it as a match (`matched`) and that sentence is still
word for word in the piece (the draft's current text, or the published one).

When a document is edited, expired or deleted (`agents.knowledge`), every such piece gets a
`SourceChange` row (audited) and the brand's editors are told (`editorial.notifications`). The flag
clears when the draft is approved again (`editorial.transitions.draft_transition` calls
`source_flags_clear`). Sending flagged pieces back to review is the desk's action
(`editorial/queue/sources.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, QuerySet
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone

from agents.models import KnowledgeDocument
from editorial.models import Draft, NotificationKind, Revision, SourceChange
from editorial.notifications import notify
from governance.audit import audit_log
from governance.models import AuditEvent
from governance.permissions import brand_members, draft_policy

# Drafts with a text a person is working on or has let out; the others have nothing to re-check.
FLAGGED_STATUSES = (Draft.Status.IN_REVIEW, Draft.Status.CHANGES_REQUESTED, Draft.Status.APPROVED,
                    Draft.Status.PUBLISHED)


@dataclass
class GroundedPiece:
    draft: Draft
    revision: Revision  # the revision whose sentence links name the document
    sentences: list[dict[str, Any]] = field(default_factory=list)  # {start, end, text, snippet, score}
    in_draft: bool = False  # the current text still has one of them
    published: bool = False  # the published text has one of them
    open_flags: list[SourceChange] = field(default_factory=list)


def _grounding_revision(draft: Draft, number: int) -> Revision | None:
    return (draft.revisions.filter(number__lte=number, provenance__has_key="sentences")
            .order_by("-number").first())


def _supported(revision: Revision, document_id: int) -> list[dict[str, Any]]:
    out = []
    for link in (revision.provenance or {}).get("sentences") or []:
        if not isinstance(link, dict) or link.get("document_id") != document_id or not link.get("matched"):
            continue
        start, end = link.get("start"), link.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(revision.content):
            out.append({"start": start, "end": end, "text": revision.content[start:end],
                        "snippet": str(link.get("snippet") or ""), "score": link.get("score")})
    return out


def pieces_grounded_by(*, document_id: int, brand_id: int) -> list[GroundedPiece]:
    """Every draft of the brand (in review, sent back, approved or published) and published piece with a
    sentence the document supported, newest first."""
    candidates = (Revision.objects.filter(draft__brand_id=brand_id, draft__status__in=FLAGGED_STATUSES,
                                          provenance__sentences__contains=[{"document_id": document_id}])
                  .values_list("draft_id", flat=True).distinct())
    drafts = (Draft.objects.filter(pk__in=list(candidates))
              .select_related("current_revision", "published_revision", "brand").order_by("-created_at", "-id"))
    open_flags: dict[int, list[SourceChange]] = {}
    for flag in SourceChange.objects.filter(draft__in=drafts, cleared_at__isnull=True).order_by("created_at", "id"):
        open_flags.setdefault(flag.draft_id, []).append(flag)
    pieces = []
    for draft in drafts:
        piece: GroundedPiece | None = None
        texts = [(draft.current_revision, "in_draft")]
        if draft.published_revision_id and draft.status == Draft.Status.PUBLISHED:
            texts.append((draft.published_revision, "published"))
        for text, where in texts:
            if text is None:
                continue
            grounding = _grounding_revision(draft, text.number)
            kept = [s for s in _supported(grounding, document_id) if s["text"] in text.content] if grounding else []
            if not kept:
                continue
            if piece is None:
                piece = GroundedPiece(draft=draft, revision=grounding, sentences=kept,
                                      open_flags=open_flags.get(draft.pk, []))
            setattr(piece, where, True)
        if piece is not None:
            pieces.append(piece)
    return pieces


def _brand_editors(brand: Any) -> list[Any]:
    probe = Draft(brand=brand)
    return [u for u in brand_members([brand]) if draft_policy.user_has_permission_for_instance(u, "edit", probe)]


@transaction.atomic
def source_flags_raise(*, document: Any, kind: str, user: Any = None) -> list[SourceChange]:
    """Flag every piece `document` supported (call it before the change is saved, in its transaction)
    and tell the brand's editors. Returns the new flags."""
    pieces = pieces_grounded_by(document_id=document.pk, brand_id=document.brand_id)
    rows = SourceChange.objects.bulk_create([
        SourceChange(draft=p.draft, document=document, document_title=document.title, kind=kind,
                     revision=p.revision, sentences=p.sentences, published=p.published, created_by=user)
        for p in pieces
    ])
    for row, piece in zip(rows, pieces, strict=True):
        audit_log(action="editorial.sources.flag", obj=row, user=user,
                  data={"draft": piece.draft.pk, "document": document.pk, "title": document.title, "kind": kind,
                        "sentences": len(piece.sentences), "published": piece.published})
    if pieces:
        verb = SourceChange.Kind(kind).label.lower()
        if len(pieces) == 1:
            draft = pieces[0].draft
            notify(users=_brand_editors(document.brand), kind=NotificationKind.SOURCE_CHANGED, draft=draft,
                   actor=user, message=f"The source “{document.title}” of “{draft.title}” was {verb}: "
                                       f"check the sentences it supported.")
        else:
            url = (reverse("agents:knowledge-document", args=[document.brand.slug, document.pk])
                   if kind != SourceChange.Kind.DELETED else reverse("editorial:queue") + "?sources=changed")
            notify(users=_brand_editors(document.brand), kind=NotificationKind.SOURCE_CHANGED, draft=None,
                   actor=user, url=url,
                   message=f"The source “{document.title}” was {verb}: {len(pieces)} pieces rest on it "
                           f"and are marked “sources changed”.")
    return rows


def source_flags_clear(*, draft: Draft, user: Any = None, run: Any = None) -> int:
    """Clear the draft's open flags (it was approved again); audited when there were any."""
    count = SourceChange.objects.filter(draft=draft, cleared_at__isnull=True).update(
        cleared_at=timezone.now(), cleared_by=user)
    if count:
        audit_log(action="editorial.sources.clear", obj=draft, user=user, run=run,
                  data={"draft": draft.pk, "flags": count})
    return count


def open_flags(draft: Draft) -> QuerySet[SourceChange]:
    return SourceChange.objects.filter(draft=draft, cleared_at__isnull=True).order_by("created_at", "id")


# Audit actions after which a document's expiry has been dealt with (a person expired it, or moved its
# date into the past, or the sweep below saw its date pass): its pieces were flagged then.
EXPIRY_SEEN = ("agents.document.expire", "agents.document.expiry", "agents.document.expired")


def documents_expired_sweep(*, now: Any = None) -> list[int]:
    """On beat: documents whose expiry date passed by itself get their pieces flagged, once each
    (audited as `agents.document.expired`, which marks it done). Returns the documents' ids."""
    now = now or timezone.now()
    seen = AuditEvent.objects.filter(
        object_type=KnowledgeDocument._meta.label_lower, object_id=Cast(OuterRef("pk"), CharField()),
        action__in=EXPIRY_SEEN, created_at__gte=OuterRef("expires_at"),
    )
    due = list(KnowledgeDocument.objects.filter(expires_at__lte=now).filter(~Exists(seen))
               .order_by("expires_at", "pk").values_list("pk", flat=True)[:200])
    done = []
    for pk in due:
        with transaction.atomic():
            document = KnowledgeDocument.objects.select_for_update().select_related("brand").filter(pk=pk).first()
            if document is None or document.expires_at is None or document.expires_at > now:
                continue
            flags = source_flags_raise(document=document, kind=SourceChange.Kind.EXPIRED)
            audit_log(action="agents.document.expired", obj=document, label="expiry sweep",
                      data={"brand": document.brand_id, "expires_at": document.expires_at,
                            "flagged_drafts": [f.draft_id for f in flags]})
            done.append(pk)
    return done
