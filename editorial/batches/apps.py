from __future__ import annotations

from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "editorial.batches"
    label = "batches"
    verbose_name = "Bulk briefs"
