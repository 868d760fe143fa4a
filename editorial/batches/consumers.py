"""A batch's progress over a WebSocket, after the same access check as its page."""
from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from editorial.batches.selectors import batch_get_for_user
from editorial.batches.services import batch_group


class BatchConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        batch_id = self.scope["url_route"]["kwargs"]["batch_id"]
        try:
            await database_sync_to_async(batch_get_for_user)(user=self.scope["user"], pk=batch_id)
        except Http404:
            await self.close(code=4404)
            return
        self.group = batch_group(batch_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def batch_event(self, event: dict) -> None:
        await self.send_json(event["data"])
