"""Which browser origins may open the app's WebSockets: the public URL and CSRF_TRUSTED_ORIGINS, compared by
scheme, host AND port (channels' AllowedHostsOriginValidator compares the host only, so another app on the
same machine, another port, could read a draft's live stream with the user's cookie)."""
from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _origin_parts(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or URL, with the scheme's default port filled in; None if malformed."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    return scheme, host, port or DEFAULT_PORTS[scheme]


def websocket_origin_allowed(origin: str) -> bool:
    """True when `origin` is the public URL's origin or one of CSRF_TRUSTED_ORIGINS
    (`https://*.example.com` trusts that domain's subdomains, on the same scheme and port)."""
    sent = _origin_parts(origin)
    if sent is None:
        return False
    for trusted in [settings.PUBLIC_URL, *settings.CSRF_TRUSTED_ORIGINS]:
        wildcard = "://*." in trusted
        allowed = _origin_parts(trusted.replace("://*.", "://", 1))
        if allowed is None:
            continue
        if sent == allowed:
            return True
        if wildcard and sent[0] == allowed[0] and sent[2] == allowed[2] and sent[1].endswith("." + allowed[1]):
            return True
    return False


class PublicOriginValidator:
    """ASGI wrapper for the WebSocket router: refuse (403 at the handshake) a connection whose Origin is missing
    or not an allowed origin."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origins = [value for name, value in scope.get("headers", []) if name == b"origin"]
        if len(origins) == 1 and websocket_origin_allowed(origins[0].decode("latin1")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
