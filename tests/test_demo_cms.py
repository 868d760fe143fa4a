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
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] in ("governance", "demo_cms")]


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
