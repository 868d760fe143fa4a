"""Reviewer corrections as data: each section as the agent wrote it beside the text people approved.

One JSON object per line (JSONL), streamed in batches so an export of a large brand never sits in
memory: the basis for evaluating a new prompt version or tuning a model on a brand's voice.

* **Who:** brand members who hold `governance.export_corrections` for that brand (through a role
  group for every brand, or granted on one brand in the admin). Others see no brand at all.
* **Which pairs:** drafts of the chosen brands that were approved (approved, published or retracted
  since), optionally of one model version or prompt template version, approved within a date range.
  The agent side is the draft's first agent-written revision; the approved side is the revision of
  its last approving sign-off (or the published revision when no person signed).
* **Personal data:** every span the personal-data detector finds in either text, and every span the
  pipeline recorded as a personal-data finding, is replaced by `[personal data]`.
* **Provenance:** model, model version, prompt template version, the two revision ids and the run id.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import DateTimeField, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from editorial.models import Draft, Revision
from editorial.sections import split_sections
from governance.audit import audit_log
from governance.detectors.personal_data import find_personal_data
from governance.models import Brand, Finding, SignOff
from governance.permissions import brands_for_user, user_has_model_or_object_perm

PERMISSION = "governance.export_corrections"
MASK = "[personal data]"
BATCH = 200
APPROVED_STATES = [Draft.Status.APPROVED, Draft.Status.PUBLISHED, Draft.Status.RETRACTED]


@dataclass(frozen=True)
class CorrectionFilters:
    brands: tuple[Brand, ...]
    model_version_id: int | None = None
    prompt_version_id: int | None = None
    since: date | None = None
    until: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"brands": [b.slug for b in self.brands], "model_version": self.model_version_id,
                "prompt_version": self.prompt_version_id, "since": self.since and self.since.isoformat(),
                "until": self.until and self.until.isoformat()}


def correction_brands_for_user(*, user: Any) -> list[Brand]:
    """The brands whose corrections `user` may export (member, and holding the permission)."""
    return [b for b in brands_for_user(user) if user_has_model_or_object_perm(user, PERMISSION, b)]


def _approved(drafts: QuerySet[Draft]) -> QuerySet[Draft]:
    approvals = SignOff.objects.filter(draft=OuterRef("pk"), decision=SignOff.Decision.APPROVE).order_by(
        "-created_at", "-id")
    first_agent = Revision.objects.filter(draft=OuterRef("pk"), author_run__isnull=False).order_by("number")
    return drafts.annotate(
        approved_revision_pk=Coalesce(Subquery(approvals.values("revision_id")[:1]), "published_revision_id",
                                      output_field=IntegerField()),
        approved_at=Coalesce(Subquery(approvals.values("created_at")[:1]), "status_changed_at",
                             output_field=DateTimeField()),
        agent_revision_pk=Subquery(first_agent.values("pk")[:1]),
    ).filter(approved_revision_pk__isnull=False, agent_revision_pk__isnull=False)


def corrections_drafts(filters: CorrectionFilters) -> QuerySet[Draft]:
    drafts = Draft.objects.filter(brand__in=[b.pk for b in filters.brands], status__in=APPROVED_STATES)
    if filters.model_version_id:
        drafts = drafts.filter(model_version_id=filters.model_version_id)
    if filters.prompt_version_id:
        drafts = drafts.filter(prompt_version_id=filters.prompt_version_id)
    drafts = _approved(drafts)
    tz = timezone.get_current_timezone()
    if filters.since:
        drafts = drafts.filter(approved_at__gte=datetime.combine(filters.since, time.min, tzinfo=tz))
    if filters.until:
        drafts = drafts.filter(approved_at__lt=datetime.combine(filters.until + timedelta(days=1), time.min, tzinfo=tz))
    return drafts.select_related("brand", "model_version", "prompt_version__template").order_by("pk")


def detected_spans(text: str, cache: dict[str, list[tuple[int, int]]] | None = None) -> list[tuple[int, int]]:
    """The detector's personal-data spans of `text`; `cache` (one export's) spares a section the reviewers
    left unchanged a second pass."""
    if cache is not None and text in cache:
        return cache[text]
    found = [(f.start, f.end) for f in find_personal_data(text) if f.start is not None and f.end is not None]
    if cache is not None:
        cache[text] = found
    return found


def mask_personal_data(text: str, spans: Iterable[tuple[int, int]] = (),
                       cache: dict[str, list[tuple[int, int]]] | None = None) -> tuple[str, int]:
    """`text` with each personal-data span (found here, or given) replaced by MASK; and how many."""
    found = detected_spans(text, cache)
    merged: list[list[int]] = []
    for start, end in sorted([*found, *spans]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + MASK + text[end:]
    return text, len(merged)


def _recorded_spans(revision_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    spans: dict[int, list[tuple[int, int]]] = {}
    rows = Finding.objects.filter(revision_id__in=revision_ids, category="personal_data", start__isnull=False,
                                  end__isnull=False).values_list("revision_id", "start", "end")
    for revision_id, start, end in rows:
        spans.setdefault(revision_id, []).append((start, end))
    return spans


def _sections(revision: Revision, recorded: list[tuple[int, int]],
              cache: dict[str, list[tuple[int, int]]]) -> dict[str, tuple[int, str, int]]:
    """heading → (index, masked body, spans masked); a recorded span counts where it overlaps the body."""
    result = {}
    for section in split_sections(revision.content):
        raw = revision.content[section.start:section.end]
        offset = len(raw) - len(raw.lstrip())
        body_start = section.start + offset
        inside = [(max(s, body_start) - body_start, min(e, body_start + len(section.body)) - body_start)
                  for s, e in recorded if s < body_start + len(section.body) and e > body_start]
        body, masked = mask_personal_data(section.body, inside, cache)
        result.setdefault(section.heading, (section.index, body, masked))
    return result


def _provenance(draft: Draft, agent: Revision, approved: Revision) -> dict[str, Any]:
    run = agent.author_run
    return {
        "model": (agent.provenance or {}).get("model") or (run.model_name if run else ""),
        "model_version": ({"id": draft.model_version_id, "name": draft.model_version.name}
                          if draft.model_version_id else None),
        "prompt_template_version": ({"id": draft.prompt_version_id, "label": str(draft.prompt_version)}
                                    if draft.prompt_version_id else None),
        "agent_revision_id": agent.pk,
        "approved_revision_id": approved.pk,
        "run_id": agent.author_run_id,
    }


def correction_lines(draft: Draft, agent: Revision, approved: Revision, recorded: dict[int, list[tuple[int, int]]],
                     cache: dict[str, list[tuple[int, int]]]) -> Iterator[dict[str, Any]]:
    before = _sections(agent, recorded.get(agent.pk, []), cache)
    after = _sections(approved, recorded.get(approved.pk, []), cache)
    provenance = _provenance(draft, agent, approved)
    for heading, (index, agent_text, masked_before) in sorted(before.items(), key=lambda item: item[1][0]):
        approved_text, masked_after = after.get(heading, (None, None, 0))[1:]
        yield {
            "draft_id": draft.pk, "brand": draft.brand.slug, "title": draft.title,
            "section_index": index, "heading": heading,
            "agent_text": agent_text, "approved_text": approved_text,  # None: the reviewers removed it
            "changed": approved_text != agent_text, "masked_spans": masked_before + masked_after,
            "approved_at": draft.approved_at.isoformat() if draft.approved_at else None,
            "provenance": provenance,
        }


def corrections_export(*, user: Any, filters: CorrectionFilters) -> Iterator[str]:
    """JSONL lines, streamed. Checked and audited before the first line is produced."""
    allowed = {b.pk for b in correction_brands_for_user(user=user)}
    if not filters.brands or any(b.pk not in allowed for b in filters.brands):
        raise PermissionDenied("You may not export the reviewer corrections of this brand.")
    with transaction.atomic():
        audit_log(action="editorial.corrections.export", user=user, object_type="governance.brand",
                  object_id=",".join(str(b.pk) for b in filters.brands)[:64], data=filters.as_dict())
    return _stream(corrections_drafts(filters))


def _stream(drafts: QuerySet[Draft]) -> Iterator[str]:
    last = 0
    while True:
        batch = list(drafts.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        last = batch[-1].pk
        ids = {d.agent_revision_pk for d in batch} | {d.approved_revision_pk for d in batch}
        revisions = Revision.objects.select_related("author_run").in_bulk(ids)
        recorded = _recorded_spans(list(ids))
        cache: dict[str, list[tuple[int, int]]] = {}  # this batch's only: personal data is not kept around
        for draft in batch:
            agent, approved = revisions[draft.agent_revision_pk], revisions[draft.approved_revision_pk]
            for line in correction_lines(draft, agent, approved, recorded, cache):
                yield json.dumps(line, ensure_ascii=False) + "\n"
