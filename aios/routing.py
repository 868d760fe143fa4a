from __future__ import annotations

from django.urls import path

from editorial.batches.consumers import BatchConsumer
from editorial.consumers import DraftConsumer, NotificationConsumer, QueueConsumer

websocket_urlpatterns = [
    path("ws/drafts/<int:draft_id>/", DraftConsumer.as_asgi()),
    path("ws/queue/", QueueConsumer.as_asgi()),
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    path("ws/batches/<int:batch_id>/", BatchConsumer.as_asgi()),
]
