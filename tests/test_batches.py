"""Bulk briefs: a file is checked whole (a bad one files nothing), then filed a few at a time on the
bulk queue under the in-flight cap; pause, resume and cancel; the desk pages and the API."""
from __future__ import annotations

import io
import json

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.models import Budget
from agents.pipeline import runs
from agents.pipeline.prompts import render_section_prompt
from editorial.batches import services
from editorial.batches.models import Batch, BatchRow
from editorial.models import Brief, Draft
from governance.models import AuditEvent
from tests.factories import PASSWORD

GOOD_CSV = "SKU,name,features,price\nA-1,Kettle,steel; 1.7 l,39.90\nA-2,Grinder,burr; 40 settings,89\nA-3,Scale,0.1 g,25\n"
BAD_CSV = "SKU,name,features,price\nA-1,Kettle,steel,39.90\nA-2,,burr,89\nA-3,Scale,0.1 g,cheap\n"
PRODUCT_DEFAULTS = {"goal": "Describe {name} ({features}) for shoppers", "audience": "home baristas",
                    "tone": "warm"}


@pytest.fixture
def product_template(world):
    """The world's template with product variables: the price must be a number."""
    version = world.template.active_version
    version.variables = {"type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]-\\d+$"},
                                                          "price": {"type": "number", "minimum": 0}},
                         "required": ["sku", "price"]}
    version.section_prompt = "{sources}\nProduct {sku} at {price}: {title}. {goal}\n## {heading}\n"
    version.save()
    return world.template


def upload(world, template, text: str, *, fmt: str = "csv", mapping=None, defaults=None, user=None):
    return services.batch_upload(
        user=user or world.requester, stream=io.BytesIO(text.encode()), fmt=fmt, brand=world.brand,
        template=template, name="Autumn products", channel="product", risk="low", language="en",
        mapping={"title": "name", **(mapping or {})}, defaults=defaults or PRODUCT_DEFAULTS, source_name="p.csv",
    )


def test_a_bad_csv_files_nothing_and_names_its_errors_by_row_and_column(world, product_template):
    with pytest.raises(services.BatchInvalid) as caught:
        upload(world, product_template, BAD_CSV)
    problems = {(e["row"], e["column"]) for e in caught.value.errors}
    assert (2, "name") in problems  # the empty title
    assert (3, "price") in problems  # "cheap" is not a number
    assert (1, "price") not in problems
    assert "nothing was filed" in str(caught.value)
    assert not Batch.objects.exists() and not BatchRow.objects.exists()
    assert not Brief.objects.exists() and not Draft.objects.exists()


def test_a_mapping_to_a_column_the_file_lacks_is_named(world, product_template):
    with pytest.raises(services.BatchInvalid) as caught:
        upload(world, product_template, GOOD_CSV, mapping={"title": "product_name"})
    assert caught.value.errors[0]["column"] == "product_name" and "No column" in caught.value.errors[0]["message"]


def test_a_file_over_the_row_cap_is_refused_whole(world, product_template, settings):
    settings.AIOS_BULK_MAX_ROWS = 2
    with pytest.raises(services.BatchInvalid) as caught:
        upload(world, product_template, GOOD_CSV)
    assert "more than 2 rows" in str(caught.value)
    assert not Batch.objects.exists()


def test_a_good_file_is_ready_with_an_estimate_and_files_nothing_until_started(world, product_template):
    batch = upload(world, product_template, GOOD_CSV)
    assert batch.status == Batch.Status.READY and batch.total == 3
    assert batch.estimate["model_calls"] == 3 * len(product_template.active_version.sections)
    assert batch.estimate["tokens_in"] > 0 and batch.estimate["cost"]
    row = batch.rows.get(number=1)
    assert row.values["title"] == "Kettle" and row.values["goal"] == "Describe Kettle (steel; 1.7 l) for shoppers"
    assert row.values["variables"] == {"sku": "A-1", "price": 39.9}
    assert not Draft.objects.exists()
    assert AuditEvent.objects.filter(action="batches.batch.create").count() == 1


def test_json_rows_keep_their_types(world, product_template):
    rows = [{"SKU": "B-1", "name": "Mug", "features": "stoneware", "price": 12},
            {"SKU": "B-2", "name": "Tray", "features": "oak", "price": 30.5}]
    batch = upload(world, product_template, json.dumps(rows), fmt="json")
    assert [r.values["variables"]["price"] for r in batch.rows.order_by("number")] == [12, 30.5]


def test_feeding_files_bulk_briefs_under_the_cap_and_their_runs_go_to_the_bulk_queue(
    world, product_template, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.AIOS_BULK_MAX_IN_FLIGHT = 2
    sent = []
    monkeypatch.setattr(runs.app, "send_task", lambda name, args, queue=None, **kw: sent.append((name, queue)))
    monkeypatch.setattr(services.app, "send_task", lambda name, args, queue=None, **kw: sent.append((name, queue)))
    batch = upload(world, product_template, GOOD_CSV)
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.batch_start(user=world.requester, batch=batch)
    assert batch.status == Batch.Status.RUNNING
    with django_capture_on_commit_callbacks(execute=True):
        assert services.batch_feed(batch_id=batch.pk, token=batch.feeder)
    drafts = list(Draft.objects.order_by("pk"))
    assert len(drafts) == 2 and {d.run_queue for d in drafts} == {"bulk"}  # the cap held
    assert ("agents.run_step", "bulk") in sent and ("agents.run_step", "default") not in sent
    assert drafts[0].brief.variables == {"sku": "A-1", "price": 39.9}
    _, prompt = render_section_prompt(version=drafts[0].prompt_version, brief=drafts[0].brief, heading="Part 1",
                                      instruction="", sources=[])
    assert "Product A-1 at 39.9: Kettle." in prompt
    # Both are still being written: another tick files nothing.
    with django_capture_on_commit_callbacks(execute=True):
        services.batch_feed(batch_id=batch.pk, token=batch.feeder)
    assert Draft.objects.count() == 2
    Draft.objects.update(status=Draft.Status.IN_REVIEW)
    with django_capture_on_commit_callbacks(execute=True):
        services.batch_feed(batch_id=batch.pk, token=batch.feeder)
    assert Draft.objects.count() == 3
    Draft.objects.update(status=Draft.Status.IN_REVIEW)
    with django_capture_on_commit_callbacks(execute=True):
        assert not services.batch_feed(batch_id=batch.pk, token=batch.feeder)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.FINISHED
    assert services.batch_counts(batch)["percent"] == 100


def test_an_interactive_brief_goes_to_the_default_queue(world, django_capture_on_commit_callbacks, monkeypatch):
    from tests.helpers import file_brief

    sent = []
    monkeypatch.setattr(runs.app, "send_task", lambda name, args, queue=None, **kw: sent.append(queue))
    with django_capture_on_commit_callbacks(execute=True):
        file_brief(world)
    assert sent == ["default"]


def test_pause_stops_filing_resume_goes_on_and_an_old_feeder_stops(world, product_template, settings,
                                                                    django_capture_on_commit_callbacks):
    settings.AIOS_BULK_MAX_IN_FLIGHT = 1
    batch = upload(world, product_template, GOOD_CSV)
    batch = services.batch_start(user=world.requester, batch=batch)
    services.batch_feed(batch_id=batch.pk, token=batch.feeder)
    old_token = batch.feeder
    services.batch_pause(user=world.requester, batch=batch)
    Draft.objects.update(status=Draft.Status.IN_REVIEW)
    services.batch_feed(batch_id=batch.pk, token=old_token)
    assert Draft.objects.count() == 1  # paused: nothing new filed
    batch = services.batch_resume(user=world.requester, batch=batch)
    assert batch.feeder != old_token
    assert not services.batch_feed(batch_id=batch.pk, token=old_token)  # the old chain ends
    assert Draft.objects.count() == 1
    services.batch_feed(batch_id=batch.pk, token=batch.feeder)
    assert Draft.objects.count() == 2


def test_cancel_keeps_the_drafts_already_filed_and_drops_the_rest(world, product_template, settings):
    settings.AIOS_BULK_MAX_IN_FLIGHT = 2
    batch = upload(world, product_template, GOOD_CSV)
    batch = services.batch_start(user=world.requester, batch=batch)
    services.batch_feed(batch_id=batch.pk, token=batch.feeder)
    Draft.objects.filter(pk=Draft.objects.order_by("pk").first().pk).update(status=Draft.Status.IN_REVIEW)
    batch = services.batch_cancel(user=world.requester, batch=batch)
    services.batch_feed(batch_id=batch.pk, token=batch.feeder)
    assert batch.status == Batch.Status.CANCELLED
    assert Draft.objects.count() == 2
    assert Draft.objects.filter(status=Draft.Status.IN_REVIEW).count() == 1
    assert list(batch.rows.values_list("status", flat=True).order_by("number")) == ["filed", "filed", "cancelled"]
    with pytest.raises(Exception, match="cannot be resumed"):
        services.batch_resume(user=world.requester, batch=batch)


def test_a_scheduled_batch_starts_when_due(world, product_template):
    from datetime import timedelta

    from django.utils import timezone

    batch = upload(world, product_template, GOOD_CSV)
    later = timezone.now() + timedelta(hours=3)
    batch = services.batch_start(user=world.requester, batch=batch, start_at=later)
    assert batch.status == Batch.Status.SCHEDULED and services.batch_start_due() == []
    Batch.objects.filter(pk=batch.pk).update(start_at=timezone.now() - timedelta(seconds=1))
    assert services.batch_start_due() == [batch.pk]
    batch.refresh_from_db()
    assert batch.status == Batch.Status.RUNNING and batch.feeder


# --- the desk -------------------------------------------------------------------------------------

def post_file(client, world, template, text, name="products.csv", **extra):
    data = {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv"), "brand": world.brand.pk,
            "template": template.pk, "channel": "product", "risk": "low", "language": "en", "col_title": "name",
            **{f"default_{k}": v for k, v in PRODUCT_DEFAULTS.items()}, **extra}
    return client.post(reverse("batches:new"), data)


def test_the_upload_page_lists_a_bad_files_errors_and_stores_nothing(as_user, world, product_template):
    response = post_file(as_user("requester"), world, product_template, BAD_CSV)
    assert response.status_code == 422
    page = response.content.decode()
    assert "nothing was filed" in page and "cheap" in page and "Empty: the brief" in page
    assert not Batch.objects.exists()


def test_the_owner_uploads_starts_and_sees_progress(as_user, world, product_template, django_capture_on_commit_callbacks):
    client = as_user("requester")
    response = post_file(client, world, product_template, GOOD_CSV)
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("batches:detail", args=[batch.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Model calls" in page and 'id="batch-bar"' in page and "Start" in page
    response = client.post(reverse("batches:action", args=[batch.pk, "start"]))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.RUNNING
    assert client.get(reverse("batches:progress", args=[batch.pk])).json()["total"] == 3


def test_the_estimate_reads_in_the_deployments_currency_with_the_budget_left_and_a_readable_duration(
    as_user, world, product_template, settings,
):
    Budget.objects.create(brand=world.brand, daily_cap=Decimal("5"), monthly_cap=Decimal("100"))
    batch = upload(world, product_template, GOOD_CSV)
    settings.AIOS_CURRENCY_SYMBOL = "€"  # written when the page is shown, not when the file was checked
    Batch.objects.filter(pk=batch.pk).update(estimate={**batch.estimate, "seconds": 5400})
    page = as_user("requester").get(reverse("batches:detail", args=[batch.pk])).content.decode()
    assert "budget left: €5.00 today" in page and "about 1.5 h" in page
    assert "€0." in page and "$" not in page.split("<h2>Estimate</h2>")[1].split("</section>")[0]


def test_a_reviewer_sees_a_batch_but_cannot_start_it(as_user, world, product_template):
    batch = upload(world, product_template, GOOD_CSV)
    client = as_user("brand_reviewer")
    assert client.get(reverse("batches:detail", args=[batch.pk])).status_code == 200
    assert client.post(reverse("batches:action", args=[batch.pk, "start"])).status_code == 403
    assert client.get(reverse("batches:new")).status_code == 403


def test_an_outsider_cannot_see_or_act_on_a_batch(as_user, world, product_template):
    batch = upload(world, product_template, GOOD_CSV)
    client = as_user("outsider")
    assert client.get(reverse("batches:detail", args=[batch.pk])).status_code == 404
    assert client.get(reverse("batches:progress", args=[batch.pk])).status_code == 404
    assert client.post(reverse("batches:action", args=[batch.pk, "cancel"])).status_code == 404
    assert batch.name not in client.get(reverse("batches:list")).content.decode()
    batch.refresh_from_db()
    assert batch.status == Batch.Status.READY


def test_wrong_methods_are_refused(as_user, world, product_template):
    batch = upload(world, product_template, GOOD_CSV)
    client = as_user("requester")
    assert client.get(reverse("batches:action", args=[batch.pk, "start"])).status_code == 405
    assert client.post(reverse("batches:progress", args=[batch.pk])).status_code == 405
    assert client.post(reverse("batches:detail", args=[batch.pk])).status_code == 405


# --- the API --------------------------------------------------------------------------------------

def api_body(world, template, text, **changes):
    return json.dumps({"brand": world.brand.slug, "template": template.slug, "channel": "product", "format": "csv",
                       "content": text, "mapping": {"title": "name"}, "defaults": PRODUCT_DEFAULTS, **changes})


def test_the_api_answers_422_with_row_errors_and_files_nothing(client, world, product_template):
    assert client.login(username=world.requester.username, password=PASSWORD)
    response = client.post("/api/v1/batches", api_body(world, product_template, BAD_CSV),
                           content_type="application/json")
    assert response.status_code == 422 and response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "batch_invalid" and body["error_count"] == 2
    assert {(e["row"], e["column"]) for e in body["errors"]} == {(2, "name"), (3, "price")}
    assert not Batch.objects.exists()


def test_the_api_creates_starts_and_reads_a_batch(client, world, product_template):
    assert client.login(username=world.requester.username, password=PASSWORD)
    response = client.post("/api/v1/batches", api_body(world, product_template, GOOD_CSV),
                           content_type="application/json")
    assert response.status_code == 201, response.content
    batch_id = response.json()["id"]
    assert response.json()["estimate"]["model_calls"] == 6
    response = client.post(f"/api/v1/batches/{batch_id}/start", content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "running"
    client.logout()
    assert client.login(username=world.outsider.username, password=PASSWORD)
    assert client.get(f"/api/v1/batches/{batch_id}").status_code == 404
