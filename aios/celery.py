"""The Celery app. Tasks bind to it explicitly (`@app.task`), so importing any tasks module loads it."""
from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aios.settings")

app = Celery("aios")
app.config_from_object("django.conf:settings", namespace="CELERY")
# `<app>.tasks` of each app, and the tasks modules of packages inside apps (governance.publishing).
app.autodiscover_tasks(["agents", "governance", "governance.publishing", "editorial", "editorial.campaigns"])
