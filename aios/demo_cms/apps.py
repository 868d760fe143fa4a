from __future__ import annotations

from django.apps import AppConfig


class DemoCmsConfig(AppConfig):
    name = "aios.demo_cms"
    label = "demo_cms"
    verbose_name = "Demo CMS"
