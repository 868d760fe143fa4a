"""Beat: keep the insights rollups up to date (see facts.py)."""
from __future__ import annotations

from aios.celery import app
from editorial.insights.facts import facts_refresh


@app.task(name="insights.refresh", ignore_result=True)
def refresh() -> int:
    return facts_refresh()
