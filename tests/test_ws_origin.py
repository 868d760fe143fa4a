"""WebSockets accept only the public URL's origin (and CSRF_TRUSTED_ORIGINS), by scheme, host AND port."""
from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from aios.origins import websocket_origin_allowed
from tests.factories import build_world
from tests.helpers import draft_in_review


def _ws(url: str, draft_id: int) -> str:
    return url.replace("http://", "ws://") + f"/ws/drafts/{draft_id}/"


def _opens(url: str, draft_id: int, origin: str, session: str) -> bool:
    try:
        with connect(_ws(url, draft_id), origin=origin, additional_headers={"Cookie": f"sessionid={session}"},
                     open_timeout=10):
            return True
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
        return False


def test_a_signed_in_editors_socket_opens_only_from_the_public_origin(live_stack, transactional_db):
    world = build_world()
    draft = draft_in_review(world)
    session = live_stack.client(world.editor.username).cookies["sessionid"]
    port = live_stack.url.rsplit(":", 1)[1]
    assert live_stack.url == f"http://127.0.0.1:{port}"  # the stack's AIOS_PUBLIC_URL
    assert _opens(live_stack.url, draft.pk, live_stack.url, session)
    # Another app on the same host (another port), the same port under another name, https: all refused.
    assert not _opens(live_stack.url, draft.pk, "http://127.0.0.1:9999", session)
    assert not _opens(live_stack.url, draft.pk, f"http://localhost:{port}", session)
    assert not _opens(live_stack.url, draft.pk, f"https://127.0.0.1:{port}", session)
    assert not _opens(live_stack.url, draft.pk, "http://127.0.0.1", session)


@pytest.mark.parametrize(("origin", "allowed"), [
    ("http://127.0.0.1:8000", True),
    ("HTTP://127.0.0.1:8000", True),
    ("http://127.0.0.1:9999", False),
    ("http://localhost:8000", False),
    ("http://127.0.0.1", False),
    ("https://127.0.0.1:8000", False),
    ("http://127.0.0.1:8000.evil.example", False),
    ("null", False),
    ("", False),
    ("http://127.0.0.1:99999", False),
])
def test_origins_are_compared_with_the_public_url_by_scheme_host_and_port(settings, origin, allowed):
    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    settings.CSRF_TRUSTED_ORIGINS = []
    assert websocket_origin_allowed(origin) is allowed


def test_trusted_origins_count_with_their_port_and_wildcard_subdomains(settings):
    settings.PUBLIC_URL = "https://desk.example.com"
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.org", "http://intranet.local:8443"]
    assert websocket_origin_allowed("https://desk.example.com:443")
    assert websocket_origin_allowed("https://news.example.org")
    assert not websocket_origin_allowed("https://example.org.evil.example")
    assert not websocket_origin_allowed("http://news.example.org")
    assert websocket_origin_allowed("http://intranet.local:8443")
    assert not websocket_origin_allowed("http://intranet.local")


def test_a_socket_without_an_origin_or_with_two_is_refused(transactional_db, services):
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator
    from django.test import Client

    from aios.asgi import application

    client = Client()
    client.force_login(build_world().editor)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    host = (b"host", b"127.0.0.1:8000")

    async def opens(headers) -> bool:
        communicator = WebsocketCommunicator(application, "/ws/queue/", headers=[host, cookie, *headers])
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(opens)([(b"origin", b"http://127.0.0.1:8000")])
    assert not async_to_sync(opens)([])
    assert not async_to_sync(opens)([(b"origin", b"http://127.0.0.1:8000"), (b"origin", b"http://evil:1")])
