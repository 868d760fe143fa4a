"""The demo workspace lets its people try campaigns: editors and requesters start them, the brand lead
keeps the segments, and Northwind has two segments to write for. A demo loaded before campaigns existed
gets the same on the launcher's next start, once."""
from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command

from editorial.campaigns.experiments import EXPERIMENT_PERM
from editorial.campaigns.models import Segment, SegmentVersion
from editorial.campaigns.segments import user_can_edit_segments
from editorial.campaigns.services import user_can_create_campaigns
from governance.models import AuditEvent, Brand

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", password="pw", stdout=out)
    return out.getvalue()


def fresh(name: str) -> User:
    return User.objects.get(username=name)  # permissions are cached per user object


def test_the_demo_people_can_use_campaigns_and_northwind_has_segments_to_write_for():
    seed()
    northwind, acme = Brand.objects.get(slug="northwind"), Brand.objects.get(slug="acme")
    assert user_can_create_campaigns(fresh("eddie"), northwind) and user_can_create_campaigns(fresh("rita"), northwind)
    assert fresh("eddie").has_perm(EXPERIMENT_PERM)
    assert user_can_edit_segments(fresh("bree"), northwind) and not user_can_edit_segments(fresh("eddie"), northwind)
    assert not user_can_create_campaigns(fresh("otto"), northwind)  # a role, not a brand: Acme's editor
    assert user_can_create_campaigns(fresh("otto"), acme)
    segments = Segment.objects.filter(brand=northwind).order_by("name")
    assert [s.name for s in segments] == ["Office teams", "Students"]
    assert all(s.active_version_id for s in segments)
    assert AuditEvent.objects.filter(action__startswith="campaigns.segment").count() == 2


def test_a_demo_loaded_before_campaigns_gets_them_once_and_an_admins_choice_is_kept():
    seed()
    for group in Group.objects.all():
        group.permissions.remove(*group.permissions.filter(content_type__app_label="campaigns"))
    Segment.objects.update(active_version=None)
    SegmentVersion.objects.all().delete()
    Segment.objects.all().delete()
    editors = Group.objects.get(name="editors")
    editors.permissions.add(Permission.objects.get(codename="add_campaign"))  # an admin's own choice

    out = seed()
    assert "demo data already loaded" in out
    assert "role requesters: campaign permissions added" in out and "role editors" not in out
    assert not fresh("eddie").has_perm(EXPERIMENT_PERM)  # the admin gave editors campaigns only
    assert user_can_create_campaigns(fresh("rita"), Brand.objects.get(slug="northwind"))
    assert user_can_edit_segments(fresh("bree"), Brand.objects.get(slug="northwind"))
    assert Segment.objects.count() == 2

    out = seed()  # the next start changes nothing
    assert "campaign permissions added" not in out and "segments added" not in out
    assert Segment.objects.count() == 2
