from __future__ import annotations

import csv
import importlib
import io
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import ProgrammingError
from django.urls import reverse

from governance.audit import _event_digest, audit_log, audit_verify
from governance.models import AuditEvent
from tests.factories import UserFactory

append_only = importlib.import_module("governance.migrations.0002_audit_append_only")

REFUSED = "governance_auditevent is append-only"
BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def events(db) -> list[AuditEvent]:
    """A normal run of the log: people, a label, nested data, a decimal, non-ASCII text."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    return [
        audit_log(action="test.thing.create", object_type="test.thing", object_id=1, user=alice,
                  data={"title": "Café crème", "tags": ["a", "b"]}),
        audit_log(action="test.thing.update", object_type="test.thing", object_id=1, user=bob,
                  data={"price": Decimal("4.20"), "nested": {"z": 1, "a": [1, 2]}}),
        audit_log(action="test.thing.update", object_type="test.thing", object_id=12, label="webhook delivery",
                  data={"status_code": 502, "error": "=HYPERLINK(\"x\")"}),
        audit_log(action="test.other.delete", object_type="test.other", object_id="abc", user=alice),
    ]


@contextmanager
def triggers_disabled():
    """What someone with the table owner's rights could do: the only way to tamper with the log."""
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of rows inserted in this transaction would block ALTER TABLE.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE governance_auditevent DISABLE TRIGGER USER")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE governance_auditevent ENABLE TRIGGER USER")


# --- append-only in the database ------------------------------------------------------------

def test_the_database_refuses_an_update_of_an_audit_event_in_sql(events):
    event = events[1]
    with pytest.raises(ProgrammingError, match=f"{REFUSED}: UPDATE of audit event {event.pk} refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE governance_auditevent SET action = 'forged' WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.thing.update"


def test_the_database_refuses_a_delete_of_an_audit_event_in_sql(events):
    with pytest.raises(ProgrammingError, match=f"{REFUSED}: DELETE of audit event {events[0].pk} refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM governance_auditevent WHERE id = %s", [events[0].pk])
    assert AuditEvent.objects.count() == len(events)


def test_the_database_refuses_orm_updates_and_deletes_too(events):
    event = events[0]
    attempts = [
        lambda: AuditEvent.objects.filter(pk=event.pk).update(data={"forged": True}),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
        lambda: AuditEvent.objects.all().delete(),
        event.delete,
    ]
    event.action = "forged"
    attempts.append(event.save)
    for attempt in attempts:
        with pytest.raises(ProgrammingError, match=REFUSED), transaction.atomic():
            attempt()
    assert AuditEvent.objects.count() == len(events)
    assert audit_verify() == (len(events), None, "")


def test_the_reverse_migration_drops_the_guard(events):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(append_only.REVERSE)
        cursor.execute("UPDATE governance_auditevent SET action = 'allowed' WHERE id = %s", [events[0].pk])
        cursor.execute(append_only.FORWARD)  # (the test's transaction is rolled back anyway)
    assert AuditEvent.objects.get(pk=events[0].pk).action == "allowed"


# --- the hash chain -------------------------------------------------------------------------

def test_a_normal_sequence_of_events_verifies(events):
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert audit_verify() == (len(events), None, "")
    # What was hashed survives the round trip through the database unchanged.
    assert all(_event_digest(e) == e.hash for e in AuditEvent.objects.all())


def test_writers_that_wait_for_each_other_each_chain_to_the_event_committed_before_them(transactional_db):
    """The head is read after the chain's lock is granted: a writer that waited sees the event the
    holder committed meanwhile (a stale head would give two events the same prev_hash)."""
    import threading
    import time

    from django.db import connections

    first_locked = threading.Event()
    errors: list[BaseException] = []

    def writer(name: str, hold: float) -> None:
        try:
            with transaction.atomic():
                audit_log(action="test.thing.create", object_type="test.thing", object_id=name, label=name)
                first_locked.set()
                time.sleep(hold)  # keep the lock while the others queue behind it
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    holder = threading.Thread(target=writer, args=("holder", 0.5))
    holder.start()
    assert first_locked.wait(10)
    waiters = [threading.Thread(target=writer, args=(f"waiter-{i}", 0.05)) for i in range(3)]
    for thread in waiters:
        thread.start()
    for thread in [holder, *waiters]:
        thread.join(30)

    assert errors == []
    assert AuditEvent.objects.count() == 4
    assert len(set(AuditEvent.objects.values_list("prev_hash", flat=True))) == 4
    assert audit_verify() == (4, None, "")


def test_numbers_hash_as_the_database_gives_them_back(db):
    audit_log(action="test.numbers", object_type="test", object_id=1,
              data={"small": 0.1, "tiny": 1e-7, "half": 12.5, "big": 1e16, "huge": -1.5e20, "int": 10**18})
    assert audit_verify() == (1, None, "")


def test_an_empty_log_verifies(db):
    assert audit_verify() == (0, None, "")


def test_an_altered_event_is_reported_by_id(events):
    target = events[1]
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute("UPDATE governance_auditevent SET data = %s WHERE id = %s",
                       [json.dumps({"price": "0.01"}), target.pk])
    checked, broken, reason = audit_verify()
    assert (checked, broken.pk) == (2, target.pk)
    assert "does not match its contents" in reason and "altered" in reason


def test_an_altered_event_with_a_recomputed_hash_breaks_the_next_link(events):
    target = events[1]
    forged = AuditEvent.objects.get(pk=target.pk)
    forged.data = {"price": "0.01"}
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute("UPDATE governance_auditevent SET data = %s, hash = %s WHERE id = %s",
                       [json.dumps(forged.data), _event_digest(forged), target.pk])
    checked, broken, reason = audit_verify()
    assert broken.pk == events[2].pk and f"#{target.pk}" in reason


def test_a_deleted_middle_event_is_detected_at_the_next_one(events):
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_auditevent WHERE id = %s", [events[1].pk])
    checked, broken, reason = audit_verify()
    assert (checked, broken.pk) == (2, events[2].pk)
    assert "prev_hash" in reason and f"#{events[0].pk}" in reason and "removed" in reason


def test_deleting_the_oldest_events_is_detected(events):
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_auditevent WHERE id = %s", [events[0].pk])
    checked, broken, reason = audit_verify()
    assert (checked, broken.pk) == (1, events[1].pk) and "oldest event left" in reason


# --- the command ----------------------------------------------------------------------------

def test_the_command_says_the_chain_is_intact_and_names_the_head(events):
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue().splitlines() == [
        f"{len(events)} events, chain intact", f"head: #{events[-1].pk} {events[-1].hash}",
    ]


def test_the_command_fails_with_the_first_broken_link(events):
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute("UPDATE governance_auditevent SET actor_label = 'someone else' WHERE id = %s", [events[2].pk])
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify")
    assert failure.value.returncode == 1
    assert str(failure.value).startswith(
        f"audit chain broken at event #{events[2].pk} (test.thing.update) after 2 intact events: hash "
    )


def test_an_anchor_catches_the_removal_of_the_newest_events(events):
    anchor = events[-1].hash
    call_command("audit_verify", anchor=[anchor], stdout=io.StringIO())
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_auditevent WHERE id = %s", [events[-1].pk])
    assert audit_verify() == (len(events) - 1, None, "")  # the chain alone cannot tell
    with pytest.raises(CommandError, match="no event has the anchor hash"):
        call_command("audit_verify", anchor=[anchor])


@pytest.mark.slow
def test_manage_py_exits_non_zero_when_the_chain_is_broken(services, transactional_db):
    audit_log(action="test.thing.create", object_type="test.thing", object_id=1)
    second = audit_log(action="test.thing.update", object_type="test.thing", object_id=1, data={"n": 1})
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgresql://postgres@/{connection.settings_dict['NAME']}?host={services.pg_dir}",
    }

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", "audit_verify"], cwd=BASE_DIR, env=env,
                              capture_output=True, text=True, timeout=120)

    ok = run()
    assert (ok.returncode, ok.stdout.splitlines()[0]) == (0, "2 events, chain intact"), ok.stderr
    with transaction.atomic(), triggers_disabled(), connection.cursor() as cursor:
        cursor.execute("UPDATE governance_auditevent SET data = '{\"n\": 2}' WHERE id = %s", [second.pk])
    broken = run()
    assert broken.returncode == 1
    assert f"audit chain broken at event #{second.pk} (test.thing.update)" in broken.stderr


# --- the admin ------------------------------------------------------------------------------

def export_url(fmt: str) -> str:
    return reverse("admin:governance_auditevent_export", args=[fmt])


def test_the_csv_export_holds_the_filtered_list_with_hashes(admin_client, events):
    response = admin_client.get(export_url("csv"), {"action": "test.thing.update"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-events-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [int(r["id"]) for r in rows] == [events[1].pk, events[2].pk]
    assert [(r["prev_hash"], r["hash"]) for r in rows] == [(e.prev_hash, e.hash) for e in events[1:3]]
    assert rows[0]["actor_username"] == "bob"
    assert json.loads(rows[0]["data"]) == {"price": "4.20", "nested": {"a": [1, 2], "z": 1}}
    assert json.loads(rows[1]["data"])["error"] == '=HYPERLINK("x")'  # inside JSON text, harmless
    assert rows[1]["actor_label"] == "webhook delivery"


def test_the_csv_export_defuses_cells_a_spreadsheet_would_run(admin_client, events):
    audit_log(action="test.thing.create", object_type="test.thing", object_id="=1+1")
    response = admin_client.get(export_url("csv"), {"q": "=1+1"})
    (row,) = csv.DictReader(io.StringIO(response.content.decode()))
    assert row["object_id"] == "'=1+1"


def test_the_json_export_can_be_rehashed_outside_the_application(admin_client, events):
    user = events[0].actor_user
    response = admin_client.get(export_url("json"), {"actor_user__id__exact": user.pk, "q": "1"})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    exported = json.loads(response.content)["events"]
    assert [e["id"] for e in exported] == [events[0].pk]  # alice's event on object 1, not object "abc"
    record = exported[0]
    assert record["actor_username"] == "alice" and record["data"]["title"] == "Café crème"
    rebuilt = AuditEvent(
        prev_hash=record["prev_hash"], action=record["action"], actor_user_id=record["actor_user"],
        actor_run_id=record["actor_run"], actor_label=record["actor_label"], object_type=record["object_type"],
        object_id=record["object_id"], data=record["data"],
    )
    rebuilt.created_at = AuditEvent.objects.get(pk=record["id"]).created_at
    assert rebuilt.created_at.isoformat() == record["created_at"]
    assert _event_digest(rebuilt) == record["hash"]


def test_the_export_follows_the_date_filter(admin_client, events):
    today = events[0].created_at
    response = admin_client.get(export_url("json"), {"created_at__year": today.year - 1})
    assert json.loads(response.content)["events"] == []
    response = admin_client.get(export_url("json"), {"created_at__year": today.year})
    assert len(json.loads(response.content)["events"]) == len(events)


def test_the_export_actions_export_the_selected_events(admin_client, events):
    changelist = reverse("admin:governance_auditevent_changelist")
    response = admin_client.post(changelist, {
        "action": "export_selected_json", "_selected_action": [events[0].pk, events[3].pk], "index": 0,
    })
    assert [e["id"] for e in json.loads(response.content)["events"]] == [events[0].pk, events[3].pk]
    response = admin_client.post(changelist, {
        "action": "export_selected_csv", "_selected_action": [events[2].pk], "index": 0,
    })
    assert [r["id"] for r in csv.DictReader(io.StringIO(response.content.decode()))] == [str(events[2].pk)]


def test_the_changelist_filters_by_actor_type_action_and_date_and_links_the_exports(admin_client, events):
    response = admin_client.get(reverse("admin:governance_auditevent_changelist"), {"object_type": "test.other"})
    page = response.content.decode()
    assert response.status_code == 200
    assert f'{export_url("csv")}?object_type=test.other' in page
    assert "By actor user" in page and "By object type" in page and "By action" in page and "By created at" in page
    assert response.context["cl"].result_count == 1


def test_the_audit_admin_offers_no_way_to_change_or_delete(admin_client, events):
    response = admin_client.get(reverse("admin:governance_auditevent_change", args=[events[0].pk]))
    assert response.status_code == 200 and b'name="_save"' not in response.content
    response = admin_client.get(reverse("admin:governance_auditevent_delete", args=[events[0].pk]))
    assert response.status_code == 403


def test_the_export_needs_an_admin_who_may_view_audit_events(client, events):
    client.force_login(UserFactory(username="staff", is_staff=True))
    assert client.get(export_url("csv")).status_code == 403
    client.force_login(UserFactory(username="plain"))
    assert client.get(export_url("csv")).status_code == 302  # to the admin login
