"""The demo CMS receiver moved from the governance app into `aios.demo_cms` without losing rows."""
from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from aios.demo_cms.models import DemoReceipt

BEFORE = [("governance", "0004_api_delivery"), ("demo_cms", None)]


def migrate(targets: list[tuple[str, str | None]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def latest() -> list[tuple[str, str]]:
    """Every app's latest migration: going back to governance 0004 also unapplied the apps that depend on
    later governance migrations (campaigns, batches, insights), and later tests need their tables."""
    executor = MigrationExecutor(connection)
    return list(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_the_rows_and_the_content_type():
    old_apps = migrate(BEFORE)
    OldReceipt = old_apps.get_model("governance", "DemoReceipt")
    old = OldReceipt.objects.create(webhook_id="msg_kept", headers={}, body="{}", verified=True)
    ContentType.objects.filter(app_label="demo_cms", model="demoreceipt").delete()
    old_type, _ = ContentType.objects.get_or_create(app_label="governance", model="demoreceipt")

    migrate(latest())

    assert DemoReceipt.objects.get(pk=old.pk).webhook_id == "msg_kept"
    moved = ContentType.objects.get(pk=old_type.pk)
    assert (moved.app_label, moved.model) == ("demo_cms", "demoreceipt")
    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(DemoReceipt).pk == old_type.pk


@pytest.mark.django_db
def test_the_receiver_page_and_hook_keep_their_urls(client):
    from django.urls import reverse

    assert reverse("demo_cms:receiver") == "/demo/receiver/"
    assert reverse("demo_cms:receiver-inbound", args=[7]) == "/demo/receiver/7/"
    assert client.post("/demo/receiver/999999/", data="{}", content_type="application/json").status_code == 404


# --- what the public receiver keeps (issue 15) -------------------------------------------------------

def _signed(connector, body: str) -> dict:
    from datetime import datetime, timezone

    from standardwebhooks import Webhook

    msg_id = f"msg_{DemoReceipt.objects.count()}_{len(body)}"
    now = datetime.now(timezone.utc)
    signature = Webhook(connector.secret).sign(msg_id, now, body)
    return {"HTTP_WEBHOOK_ID": msg_id, "HTTP_WEBHOOK_TIMESTAMP": str(int(now.timestamp())),
            "HTTP_WEBHOOK_SIGNATURE": signature}


@pytest.fixture
def receiver(world):
    from django.core.cache import cache

    cache.clear()
    return f"/demo/receiver/{world.connector.pk}/"


def test_a_verified_post_is_kept_whole(client, world, receiver):
    body = '{"type": "content.published", "data": {"title": "' + "x" * 5000 + '"}}'
    response = client.post(receiver, data=body, content_type="application/json", **_signed(world.connector, body))
    assert response.status_code == 200
    receipt = DemoReceipt.objects.get()
    assert receipt.verified and receipt.body == body


def test_an_unverified_post_is_refused_and_kept_only_as_a_short_record(client, world, receiver):
    body = "A" * (1024 * 1024)
    response = client.post(receiver, data=body, content_type="text/plain",
                           HTTP_WEBHOOK_ID="msg_forged", HTTP_WEBHOOK_SIGNATURE="v1,bm9wZQ==" + "x" * 5000,
                           HTTP_WEBHOOK_TIMESTAMP="1")
    assert response.status_code == 401 and "signature not verified" in response.json()["detail"]
    receipt = DemoReceipt.objects.get()
    assert not receipt.verified and len(receipt.body) == 1000 and receipt.error
    assert all(len(v) <= 200 for v in receipt.headers.values())


def test_unverified_posts_beyond_ten_a_minute_are_not_kept_and_only_the_newest_fifty_stay(client, world, receiver):
    from django.core.cache import cache

    for n in range(15):
        assert client.post(receiver, data=f"forged {n}", content_type="text/plain").status_code == 401
    assert DemoReceipt.objects.filter(verified=False).count() == 10
    for minute in range(5):  # later minutes
        cache.clear()
        for n in range(12):
            client.post(receiver, data=f"forged {minute}.{n}", content_type="text/plain")
    assert DemoReceipt.objects.filter(verified=False).count() == 50
    assert DemoReceipt.objects.filter(verified=False).order_by("-pk").first().body == "forged 4.9"
    body = '{"type": "content.published"}'
    assert client.post(receiver, data=body, content_type="application/json",
                       **_signed(world.connector, body)).status_code == 200  # verified posts are never limited


def test_a_nul_character_in_a_post_is_kept_as_a_replacement_not_a_database_error(client, world, receiver):
    assert client.post(receiver, data="bad\x00body", content_type="text/plain").status_code == 401
    assert DemoReceipt.objects.get().body == "bad\ufffdbody"


def test_a_body_over_the_limit_is_a_413_and_nothing_is_kept(client, world, receiver, settings):
    big = "x" * (3 * 1024 * 1024)  # above Django's own DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) too
    assert client.post(receiver, data=big, content_type="application/json").status_code == 413
    assert not DemoReceipt.objects.exists()
