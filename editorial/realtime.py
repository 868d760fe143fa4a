"""The one helper that pushes draft events to browsers over the channel layer.

`async_to_sync(group_send)` opens a new Valkey connection per call (~2.6 ms); the writer sends
many messages, so each process keeps one event loop in a daemon thread and reuses its
connections. The thread starts lazily, so a Celery prefork child gets its own after the fork.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def draft_group(draft_id: int) -> str:
    return f"draft.{draft_id}"


def _event_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid() or not _loop.is_running():
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()

            threading.Thread(target=run, name="aios-realtime", daemon=True).start()
            started.wait(5)
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def push_draft_event(draft_id: int, data: dict[str, Any], *, wait: bool = True) -> None:
    """Send `data` to every socket watching the draft. Never raises: progress is best effort,
    the database stays the source of truth (a reload shows it)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "draft.event", "data": data}
    try:
        future = asyncio.run_coroutine_threadsafe(layer.group_send(draft_group(draft_id), message), _event_loop())
        if wait:
            future.result(timeout=5)
    except Exception:  # noqa: BLE001 - a lost progress message must not fail the run
        log.warning("could not push event for draft %s", draft_id, exc_info=True)


def queue_group(brand_id: int) -> str:
    return f"queue.{brand_id}"


def push_queue_event(brand_id: int, data: dict[str, Any]) -> None:
    """Tell every open queue of the brand that something changed; pages re-fetch their rows."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "queue.event", "data": data}
    try:
        future = asyncio.run_coroutine_threadsafe(layer.group_send(queue_group(brand_id), message), _event_loop())
        future.result(timeout=5)
    except Exception:  # noqa: BLE001 - the queue also polls; a lost nudge only delays it
        log.warning("could not push queue event for brand %s", brand_id, exc_info=True)
