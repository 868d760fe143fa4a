"""/api/v1 routes of the desk, one module (and router) per domain; aios/api.py mounts the routers.

Same selectors and services as the HTML views, so the API allows exactly what the pages allow.
Every route first names the token scope it needs (`api_scope_required`)."""
