from __future__ import annotations

from django.urls import path

from editorial.consumers import DraftConsumer

websocket_urlpatterns = [
    path("ws/drafts/<int:draft_id>/", DraftConsumer.as_asgi()),
]
