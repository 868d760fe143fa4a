from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "editorial.insights"
    label = "insights"
    verbose_name = "Insights"
