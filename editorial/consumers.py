"""The desk's WebSockets: a draft's progress, the queue's nudges, and each person's notifications."""
from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied
from django.http import Http404

from editorial.notifications import unread_count
from editorial.realtime import draft_group, queue_group, unwatch, user_group, watch
from editorial.selectors import draft_get_for_user
from governance.permissions import brands_for_user


class DraftConsumer(AsyncJsonWebsocketConsumer):
    """Forwards a draft's progress events to one browser, after the same access check as the page."""

    async def connect(self) -> None:
        draft_id = self.scope["url_route"]["kwargs"]["draft_id"]
        try:
            await database_sync_to_async(draft_get_for_user)(user=self.scope["user"], pk=draft_id)
        except (Http404, PermissionDenied):
            await self.close(code=4404)
            return
        self.group = draft_group(draft_id)
        await sync_to_async(watch)(self.group, self.channel_name)  # before joining: no event is skipped
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await sync_to_async(unwatch)(self.group, self.channel_name)

    async def draft_event(self, event: dict) -> None:
        await self.send_json(event["data"])


class QueueConsumer(AsyncJsonWebsocketConsumer):
    """Nudges an open queue page when items of the user's brands change hands; the page then re-fetches
    its rows over HTTP, through the same access checks as any page load."""

    async def connect(self) -> None:
        brand_ids = await database_sync_to_async(_brand_ids)(self.scope["user"])
        if not brand_ids:
            await self.close(code=4403)
            return
        self.queue_groups = [queue_group(pk) for pk in brand_ids]
        for group in self.queue_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "queue_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def queue_event(self, event: dict) -> None:
        await self.send_json(event["data"])


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Joins exactly one group, named after the user of the session; the URL names nobody, so there is
    nothing a client could change to listen to someone else. Anonymous sockets are refused."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # The count as of now, so a page that reconnects after a gap is right again.
        count = await database_sync_to_async(unread_count)(user.pk)
        await self.send_json({"kind": "notifications", "unread": count})

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        pass  # the socket only speaks one way

    async def notification_event(self, event: dict) -> None:
        await self.send_json(event["data"])


def _brand_ids(user: Any) -> list[int]:
    return list(brands_for_user(user).values_list("pk", flat=True))
