"""Segments in the admin: saving one goes through segment_save (a new version each time, audited), and
the versions are history, never edited there."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from editorial.campaigns.models import Segment
from governance.audit import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_an_admin_saves_a_segment_as_a_new_version_each_time(world):
    admin = UserFactory(username="ada", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    form = {"brand": world.brand.pk, "name": "Students", "description": "On a budget",
            "traits": "short on time\nprice-minded", "language": "en", "channels": ["newsletter"],
            "versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"}
    response = client.post(reverse("admin:campaigns_segment_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get()
    assert segment.active_version.traits == ["short on time", "price-minded"]
    response = client.post(reverse("admin:campaigns_segment_change", args=[segment.pk]),
                           {**form, "traits": "exam season", "language": "de"})
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.versions.count() == 2 and segment.active_version.language == "de"
    assert AuditEvent.objects.filter(action="campaigns.segment.save").count() == 2
    page = client.get(reverse("admin:campaigns_segment_change", args=[segment.pk])).content.decode()
    assert "exam season" in page and "short on time" in page  # both versions listed
    too_many = client.post(reverse("admin:campaigns_segment_change", args=[segment.pk]),
                           {**form, "traits": "\n".join(f"t{i}" for i in range(20))})
    assert too_many.status_code == 200 and "At most 12 traits" in too_many.content.decode()
    assert segment.versions.count() == 2
