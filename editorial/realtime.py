"""The one helper that pushes draft events to browsers over the channel layer.

`async_to_sync(group_send)` opens a new Valkey connection per call (~2.6 ms); the writer sends
many messages, so each process keeps one event loop in a daemon thread and reuses its
connections. The thread starts lazily, so a Celery prefork child gets its own after the fork.

Who has a draft open is kept beside Channels' group (the channel layer does not tell its members):
`DraftConsumer` adds its socket with `watch` before joining the group and removes it after leaving.
An event for a draft nobody has open (most drafts of a bulk batch) then costs one ZCOUNT instead of a
group_send, about a fifth of the CPU. A socket whose server died without `unwatch` expires after
WATCH_SECONDS, as Channels' own membership does; until then its draft's events go out as before.
A page opened meanwhile loses nothing: it loads the checkpoint, and a delta whose offset is past
what it has makes it reload it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

import redis
from channels.layers import get_channel_layer
from django.conf import settings

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


def push_group(group: str, event_type: str, data: dict[str, Any], *, wait: bool = True) -> None:
    """Send `data` to every socket in `group` as an `event_type` message. Never raises: progress is
    best effort, the database stays the source of truth (a reload shows it)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        future = asyncio.run_coroutine_threadsafe(
            layer.group_send(group, {"type": event_type, "data": data}), _event_loop()
        )
        if wait:
            future.result(timeout=5)
    except Exception:  # noqa: BLE001 - a lost live message must not fail the action that sent it
        log.warning("could not push %s to %s", event_type, group, exc_info=True)


WATCH_SECONDS = 24 * 3600  # Channels' own group expiry
_watch_client: redis.Redis | None = None
_watch_pid: int | None = None


def _watchers() -> redis.Redis:
    global _watch_client, _watch_pid
    if _watch_client is None or _watch_pid != os.getpid():
        _watch_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        _watch_pid = os.getpid()
    return _watch_client


def _watch_key(group: str) -> str:
    return f"aios:watchers:{group}"


def watch(group: str, channel_name: str) -> None:
    """Count the socket `channel_name` as watching `group` (call before joining the group)."""
    now, key = time.time(), _watch_key(group)
    _watchers().pipeline().zremrangebyscore(key, 0, now).zadd(key, {channel_name: now + WATCH_SECONDS}).expire(
        key, WATCH_SECONDS).execute()


def unwatch(group: str, channel_name: str) -> None:
    """The socket left `group` (call after leaving it)."""
    _watchers().zrem(_watch_key(group), channel_name)


def watched(group: str) -> bool:
    """Whether a socket may be watching `group`; True when that cannot be told (send rather than lose)."""
    try:
        return _watchers().zcount(_watch_key(group), time.time(), "+inf") > 0
    except redis.RedisError:
        return True


def push_draft_event(draft_id: int, data: dict[str, Any], *, wait: bool = True) -> None:
    """Send `data` to every socket watching the draft (nothing to send when none is)."""
    group = draft_group(draft_id)
    if watched(group):
        push_group(group, "draft.event", data, wait=wait)


def queue_group(brand_id: int) -> str:
    return f"queue.{brand_id}"


def push_queue_event(brand_id: int, data: dict[str, Any]) -> None:
    """Tell every open queue of the brand that something changed; pages re-fetch their rows (the
    queue also polls, so a lost nudge only delays it)."""
    push_group(queue_group(brand_id), "queue.event", data)


def user_group(user_id: int) -> str:
    return f"notifications.{user_id}"
