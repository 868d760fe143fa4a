"""A draft's events go out only while someone has it open: presence kept beside the Channels group."""
from __future__ import annotations

import time

import pytest
from websockets.sync.client import connect

from editorial import realtime
from editorial.realtime import draft_group, push_draft_event, unwatch, watch, watched
from tests.factories import build_world
from tests.helpers import draft_in_review


@pytest.fixture
def sent(monkeypatch, services) -> list[tuple[str, dict]]:
    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(realtime, "push_group", lambda group, event_type, data, **kw: calls.append((group, data)))
    return calls


def test_an_event_for_a_draft_nobody_has_open_is_not_sent(sent):
    push_draft_event(910001, {"kind": "run"})
    assert sent == []


def test_an_event_goes_out_while_a_socket_watches_and_stops_when_it_leaves(sent):
    group = draft_group(910002)
    watch(group, "specific.a")
    watch(group, "specific.b")
    push_draft_event(910002, {"kind": "run", "n": 1})
    unwatch(group, "specific.a")
    push_draft_event(910002, {"kind": "run", "n": 2})  # b still watches
    unwatch(group, "specific.b")
    push_draft_event(910002, {"kind": "run", "n": 3})
    assert [data["n"] for _, data in sent] == [1, 2]
    assert {group_name for group_name, _ in sent} == {group}


def test_a_watcher_whose_server_died_without_leaving_stops_counting_once_expired(sent, monkeypatch):
    group = draft_group(910003)
    monkeypatch.setattr(realtime, "WATCH_SECONDS", -1)  # registered as already expired
    watch(group, "specific.gone")
    assert not watched(group)


def test_when_presence_cannot_be_read_the_event_is_sent_anyway(sent, monkeypatch, settings):
    monkeypatch.setattr(realtime, "_watch_client", None)
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    push_draft_event(910004, {"kind": "status"})
    monkeypatch.setattr(realtime, "_watch_client", None)  # the next test's client, on the real URL
    assert [data["kind"] for _, data in sent] == ["status"]


def test_an_open_draft_page_socket_counts_as_watching_until_it_closes(live_stack, transactional_db):
    world = build_world()
    draft = draft_in_review(world)
    session = live_stack.client(world.editor.username).cookies["sessionid"]
    url = live_stack.url.replace("http://", "ws://") + f"/ws/drafts/{draft.pk}/"
    group = draft_group(draft.pk)
    assert not watched(group)
    with connect(url, origin=live_stack.url, additional_headers={"Cookie": f"sessionid={session}"}, open_timeout=10):
        assert watched(group)
    deadline = time.monotonic() + 10
    while watched(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not watched(group)
