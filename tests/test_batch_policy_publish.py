"""A bulk batch may say when its drafts approved by policy are published: on the upload form (in the
browser's time zone) and in the API, checked like a schedule, shown on the batch page."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from editorial.batches.models import Batch, BatchRow
from editorial.batches.services import batch_counts
from governance.models import AuditEvent
from governance.signoffs import signoff_record, signoffs_by_policy
from tests.factories import PASSWORD
from tests.helpers import draft_in_review

CSV = "name,goal\nKettle,Describe the kettle\nGrinder,Describe the grinder\n"
DEFAULTS = {"default_audience": "home baristas", "default_tone": "warm"}


def post_file(client, world, **extra):
    data = {"file": SimpleUploadedFile("products.csv", CSV.encode(), content_type="text/csv"),
            "brand": world.brand.pk, "template": world.template.pk, "channel": "product", "risk": "low",
            "language": "en", "col_title": "name", **DEFAULTS, **extra}
    return client.post(reverse("batches:new"), data)


def test_the_upload_form_takes_the_time_in_the_browsers_time_zone_and_the_batch_page_shows_it(client, world):
    assert client.login(username=world.requester.username, password=PASSWORD)
    local = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0, tzinfo=None)
    # A browser two hours ahead of UTC (getTimezoneOffset() = -120) picked 22:00 local: 20:00 UTC.
    response = post_file(client, world, publish_at=local.strftime("%Y-%m-%dT%H:%M"), tz_offset_minutes="-120")
    assert response.status_code == 302, response.content.decode()[:2000]
    batch = Batch.objects.get()
    assert batch.policy_publish_at == local.replace(tzinfo=UTC) - timedelta(hours=2)
    create = AuditEvent.objects.get(action="batches.batch.create")
    assert create.data["policy_publish_at"] == batch.policy_publish_at.isoformat()
    page = client.get(response["Location"]).content.decode()
    assert 'id="batch-policy-publish"' in page
    assert f"published at <strong title=\"{batch.policy_publish_at.isoformat()}\">" in page


def test_without_a_time_the_batch_publishes_policy_approved_drafts_at_once(client, world):
    assert client.login(username=world.requester.username, password=PASSWORD)
    response = post_file(client, world)
    assert response.status_code == 302
    assert Batch.objects.get().policy_publish_at is None
    assert "published as soon as they are approved" in client.get(response["Location"]).content.decode()


def test_a_past_time_on_the_form_is_refused_and_nothing_is_stored(client, world):
    assert client.login(username=world.requester.username, password=PASSWORD)
    response = post_file(client, world, publish_at="2020-01-01T10:00", tz_offset_minutes="0")
    assert response.status_code == 422
    assert "The publication time must be in the future" in response.content.decode()
    assert not Batch.objects.exists()


def test_an_unreadable_offset_is_refused_rather_than_guessed(client, world):
    assert client.login(username=world.requester.username, password=PASSWORD)
    response = post_file(client, world, publish_at="2099-01-01T10:00", tz_offset_minutes="NaN")
    assert response.status_code == 422 and "could not be read" in response.content.decode()
    assert not Batch.objects.exists()


def api_body(world, **changes):
    return json.dumps({"brand": world.brand.slug, "template": world.template.slug, "channel": "product",
                       "format": "csv", "content": CSV, "mapping": {"title": "name"},
                       "defaults": {"audience": "home baristas", "tone": "warm"}, **changes})


def test_the_api_stores_and_returns_the_time(client, world):
    assert client.login(username=world.requester.username, password=PASSWORD)
    when = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    response = client.post("/api/v1/batches", api_body(world, policy_publish_at=when.isoformat()),
                           content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert datetime.fromisoformat(body["policy_publish_at"].replace("Z", "+00:00")) == when
    got = client.get(f"/api/v1/batches/{body['id']}").json()
    assert got["policy_publish_at"] == body["policy_publish_at"]


def test_the_api_refuses_a_past_or_naive_time_with_a_problem_and_stores_nothing(client, world):
    assert client.login(username=world.requester.username, password=PASSWORD)
    for value, says in (("2020-01-01T10:00:00+00:00", "must be in the future"),
                        ("2099-01-01T10:00:00", "with its timezone"),
                        ((timezone.now() + timedelta(days=366 * 6)).isoformat(), "five years")):
        response = client.post("/api/v1/batches", api_body(world, policy_publish_at=value),
                               content_type="application/json")
        assert response.status_code == 422 and response["Content-Type"].startswith("application/problem+json")
        assert says in response.content.decode()
    assert not Batch.objects.exists()


def test_the_batch_counts_its_drafts_approved_by_policy_on_its_page_and_in_its_progress(client, world):
    world.workflow.policy_approval = True
    world.workflow.save()
    batch = Batch.objects.create(brand=world.brand, template=world.template, name="Autumn products",
                                 channel="blog", created_by=world.requester, total=3)
    by_policy, by_person, waiting = (draft_in_review(world) for _ in range(3))
    signoffs_by_policy(draft=by_policy, quality_clean=True)
    signoff_record(draft=by_person, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=by_person.current_revision_id)
    for number, draft in enumerate((by_policy, by_person, waiting), start=1):
        BatchRow.objects.create(batch=batch, number=number, values={"title": draft.title}, status="filed",
                                draft=draft)
    assert batch_counts(batch)["approved_by_policy"] == 1
    assert client.login(username=world.brand_reviewer.username, password=PASSWORD)
    page = client.get(reverse("batches:detail", args=[batch.pk])).content.decode()
    assert '<dt>Approved by policy</dt><dd data-count="approved_by_policy">1</dd>' in page
    assert client.get(reverse("batches:progress", args=[batch.pk])).json()["approved_by_policy"] == 1
