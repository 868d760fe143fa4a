from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from aios.tracing import tracing_setup  # imports only `os` unless OTEL_* is set

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aios.settings")
# Before Django loads its middleware: the Django instrumentation adds its own (OpenTelemetry, optional).
tracing_setup(role="web")
django_http = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

import aios.celery  # noqa: E402,F401  (so web processes enqueue through the configured app)
from aios.origins import PublicOriginValidator  # noqa: E402
from aios.routing import websocket_urlpatterns  # noqa: E402

# Plain ASGI servers serve no static files; the app is small enough to serve its own.
http_app = ASGIStaticFilesHandler(django_http) if settings.AIOS_SERVE_STATIC else django_http

application = ProtocolTypeRouter(
    {
        "http": http_app,
        # Origin compared by scheme, host and port with AIOS_PUBLIC_URL and CSRF_TRUSTED_ORIGINS (aios/origins.py).
        "websocket": PublicOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
