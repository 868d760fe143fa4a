"""Audience segments of a brand: who may edit them, and saving one (every save is a new version, as
rule sets are versioned; variants keep the version they were written for)."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, QuerySet
from django.http import Http404

from editorial.campaigns.models import Segment, SegmentVersion
from governance.audit import audit_log
from governance.models import Brand, Channel
from governance.permissions import brands_for_user

EDIT_PERM = "campaigns.change_segment"
MAX_TRAITS = 12


def segments_for_user(*, user: Any) -> QuerySet[Segment]:
    return Segment.objects.filter(brand__in=brands_for_user(user)).select_related("brand", "active_version")


def segment_get_for_user(*, user: Any, pk: int, action: str = "view") -> Segment:
    segment = segments_for_user(user=user).filter(pk=pk).first()
    if segment is None:
        raise Http404("No such segment.")
    if action == "edit" and not user_can_edit_segments(user, segment.brand):
        raise PermissionDenied("Only admins and brand leads edit audience segments.")
    return segment


def user_can_edit_segments(user: Any, brand: Brand) -> bool:
    """Admins, and brand leads: members of the brand whose role holds `campaigns.change_segment`."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or (user.has_perm(EDIT_PERM) and brands_for_user(user).filter(pk=brand.pk).exists())


def clean_traits(raw: Any) -> list[str]:
    """Traits from a list or from text with one trait a line (or comma separated)."""
    if isinstance(raw, str):
        raw = [t for line in raw.splitlines() for t in line.split(",")]
    traits = [str(t).strip() for t in (raw or []) if str(t).strip()]
    if len(traits) > MAX_TRAITS:
        raise ValidationError({"traits": f"At most {MAX_TRAITS} traits; short phrases work best."})
    if any(len(t) > 120 for t in traits):
        raise ValidationError({"traits": "Keep each trait under 120 characters."})
    return traits


@transaction.atomic
def segment_save(
    *, user: Any, brand: Brand, name: str, description: str = "", traits: Any = None, language: str = "en",
    channels: list[str] | None = None, segment: Segment | None = None,
) -> SegmentVersion:
    """Create a segment or give it a new version (the old versions stay, with the variants written for them)."""
    if not user_can_edit_segments(user, brand):
        raise PermissionDenied("Only admins and brand leads edit audience segments.")
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the segment a name."})
    if language not in dict(settings.AIOS_CONTENT_LANGUAGES):
        raise ValidationError({"language": f"Choose one of: {', '.join(dict(settings.AIOS_CONTENT_LANGUAGES))}."})
    channels = list(channels or [])
    unknown = [c for c in channels if c not in Channel.values]
    if unknown:
        raise ValidationError({"channels": f"Unknown channel(s): {', '.join(unknown)}."})
    traits = clean_traits(traits)
    clash = Segment.objects.filter(brand=brand, name__iexact=name).exclude(pk=segment.pk if segment else None)
    if clash.exists():
        raise ValidationError({"name": f"{brand} already has a segment called “{name}”."})
    if segment is None:
        segment = Segment.objects.create(brand=brand, name=name)
    else:
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        if segment.brand_id != brand.pk:
            raise ValidationError("A segment stays with its brand.")
        segment.name = name
    number = (segment.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = SegmentVersion.objects.create(
        segment=segment, number=number, description=description.strip(), traits=traits, language=language,
        channels=channels, created_by=user,
    )
    segment.active_version = version
    segment.save(update_fields=["name", "active_version"])
    audit_log(action="campaigns.segment.save", obj=segment, user=user, data={
        "version": number, "name": name, "traits": traits, "language": language, "channels": channels,
    })
    return version
