"""The notifications socket: each signed-in person hears only about their own notifications."""
from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from editorial.notifications import unread_count, user_group


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
