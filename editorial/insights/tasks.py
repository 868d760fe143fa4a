"""Beat: keep the insights rollups up to date (see facts.py)."""
from __future__ import annotations

from aios.celery import app
from editorial.insights.alerts import alerts_evaluate
from editorial.insights.facts import facts_refresh
from editorial.insights.metrics import insights_warm


@app.task(name="insights.refresh", ignore_result=True)
def refresh() -> int:
    """Take in the latest events, then judge the alert rules on the fresh figures (and today's spend)."""
    refreshed = facts_refresh()
    if refreshed:
        insights_warm()  # the default views, ready before anyone asks
    alerts_evaluate()
    return refreshed
