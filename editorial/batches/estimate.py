"""What a batch will take before it starts: model calls, tokens, cost against the brand's budget,
and the expected duration from recent runs."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F

from agents.calls.budgets import call_cost, estimate_tokens, money, spend_against_caps
from agents.models import AgentRun
from agents.pipeline.prompts import render_section_prompt
from agents.pipeline.steps import model_version_for_brief
from editorial.batches.models import Batch
from editorial.models import Brief

# Recent finished drafts (of any brand: the workers are shared) the duration is read from.
RECENT = 200


def _recent_write_usage(brand: Any) -> dict[str, Any]:
    runs = AgentRun.objects.filter(draft__brand=brand, kind=AgentRun.Kind.WRITE, status=AgentRun.Status.SUCCEEDED)
    ids = list(runs.order_by("-finished_at").values_list("pk", flat=True)[:RECENT])
    return AgentRun.objects.filter(pk__in=ids).aggregate(n=Count("pk"), tokens_in=Avg("tokens_in"),
                                                         tokens_out=Avg("tokens_out"), cost=Avg("cost"))


def _recent_draft_seconds() -> float | None:
    """Mean seconds from filing a draft to its check finishing, over recent drafts."""
    checks = (AgentRun.objects.filter(kind=AgentRun.Kind.CHECK, status=AgentRun.Status.SUCCEEDED)
              .order_by("-finished_at")
              .annotate(took=ExpressionWrapper(F("finished_at") - F("draft__created_at"), output_field=DurationField()))
              .values_list("took", flat=True)[:RECENT])
    took = [t.total_seconds() for t in checks if t is not None]
    return sum(took) / len(took) if took else None


def _recent_rate_per_minute() -> float | None:
    """Drafts per minute of the last finished batch (the best measure of what the workers manage)."""
    last = (Batch.objects.filter(status=Batch.Status.FINISHED, started_at__isnull=False, finished_at__isnull=False)
            .order_by("-finished_at").first())
    if last is None or last.total < 20:
        return None
    minutes = (last.finished_at - last.started_at).total_seconds() / 60
    return last.total / minutes if minutes > 0 else None


def batch_estimate(*, brand: Any, template: Any, channel: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    version = template.active_version
    sections = len(version.sections or [])
    model = model_version_for_brief(0)
    calls = len(rows) * sections
    usage = _recent_write_usage(brand)
    if usage["n"]:
        basis = f"the brand's last {usage['n']} written drafts"
        tokens_in = round((usage["tokens_in"] or 0) * len(rows))
        tokens_out = round((usage["tokens_out"] or 0) * len(rows))
    else:
        basis = "the template's prompts and the model's max tokens (no drafts written yet)"
        sample = rows[0] if rows else {}
        brief = Brief(brand=brand, channel=channel, title=sample.get("title", ""), goal=sample.get("goal", ""),
                      audience=sample.get("audience", ""), tone=sample.get("tone", ""),
                      variables=sample.get("variables", {}))
        per_draft_in = 0
        for section in version.sections or []:
            system, prompt = render_section_prompt(version=version, brief=brief, heading=section.get("heading", ""),
                                                   instruction=section.get("instruction", ""), sources=[])
            per_draft_in += estimate_tokens(system + prompt)
        max_tokens = int((model.parameters if model else {}).get("max_tokens", settings.AIOS_LLM_MAX_TOKENS))
        tokens_in, tokens_out = per_draft_in * len(rows), max_tokens * calls
    cost = call_cost(model, tokens_in=tokens_in, tokens_out=tokens_out) if model else Decimal(0)
    spend = spend_against_caps(brand=brand)
    left = []
    if spend["daily_cap"] is not None:
        left.append(("today", spend["daily_cap"] - spend["today_spent"] - spend["today_reserved"]))
    if spend["monthly_cap"] is not None:
        left.append(("this month", spend["monthly_cap"] - spend["month_total"]))
    tightest = min(left, key=lambda p: p[1]) if left else None
    parallel = max(1, min(settings.AIOS_BULK_MAX_IN_FLIGHT, settings.AIOS_BULK_MAX_IN_FLIGHT_PER_BRAND, len(rows)))
    rate = _recent_rate_per_minute()
    per_draft = _recent_draft_seconds()
    if rate:
        seconds, duration_basis = len(rows) / rate * 60, "the last finished batch's pace"
    elif per_draft:
        seconds, duration_basis = len(rows) * per_draft / parallel, f"recent drafts ({per_draft:.1f} s each, {parallel} at once)"
    else:
        seconds, duration_basis = None, "no recent runs to measure"
    return {
        "rows": len(rows), "model_calls": calls, "tokens_in": tokens_in, "tokens_out": tokens_out,
        "tokens_basis": basis, "cost": str(cost.quantize(Decimal("0.00000001"))), "cost_display": money(cost),
        "budget_left": str(tightest[1]) if tightest else None,
        "budget_left_period": tightest[0] if tightest else None,
        "budget_left_display": f"{money(tightest[1])} {tightest[0]}" if tightest else "no cap",
        "over_budget": bool(tightest and cost > tightest[1]),
        "seconds": round(seconds) if seconds is not None else None, "duration_basis": duration_basis,
        "model": model.name if model else None,
    }
