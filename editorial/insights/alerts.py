"""Alert rules on the insights figures: evaluated after every refresh pass (beat, every minute, right
after the pass has taken in the latest events), each rule fires once per crossing through the
notifications (in the app and by e-mail), audited, and re-arms when the figure is back."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agents.models import Budget, SpendDay
from editorial.insights.metrics import METRICS, Filters, facts_for, figures, rollup_aggregates
from editorial.insights.models import AlertRule
from editorial.insights.templatetags.insights_format import format_value
from editorial.models import NotificationKind
from editorial.notifications import notify
from governance.audit import audit_log
from governance.models import Brand
from governance.permissions import brands_for_user

SPEND_TODAY = "spend_today_share"
ALERT_METRICS = {m.key: (m.label, m.unit) for m in METRICS if m.key != "findings_per_1000_words"}
COUNTED = {m.key: m.counted for m in METRICS}  # what a rule's minimum counts: drafts, or drafts with outcomes
ALERT_METRICS[SPEND_TODAY] = ("Today's spend, share of the daily cap", "%")


@dataclass(frozen=True)
class Reading:
    value: float | None
    n: int  # drafts behind it (outcome metrics: drafts with outcomes; for spend: 1 when a cap exists)


def alert_rule_check(rule: AlertRule) -> None:
    if rule.metric not in ALERT_METRICS:
        raise ValidationError({"metric": "Choose one of the listed metrics."})
    if rule.metric == SPEND_TODAY and rule.brand_id is None:
        raise ValidationError({"brand": "Today's spend is per brand: choose the brand whose cap it is."})
    if rule.window_days < 1 or rule.window_days > 366:
        raise ValidationError({"window_days": "Choose between 1 and 366 days."})


@transaction.atomic
def alert_rule_save(*, rule: AlertRule, user: Any, changed: list[str] | None = None) -> AlertRule:
    """Create or change a rule (the admin's form), audited. A changed rule re-arms: it is judged afresh."""
    alert_rule_check(rule)
    created = rule.pk is None
    if created:
        rule.created_by = user
    rule.firing = False
    rule.save()
    audit_log(action="insights.alert_rule.create" if created else "insights.alert_rule.change", obj=rule, user=user,
              data={"metric": rule.metric, "direction": rule.direction, "threshold": rule.threshold,
                    "brand": rule.brand_id, "model_version": rule.model_version_id,
                    "prompt_version": rule.prompt_version_id, "changed": changed or []})
    return rule


def reading_for(rule: AlertRule, *, now: Any = None) -> Reading:
    now = now or timezone.now()
    today = timezone.localdate(now)
    if rule.metric == SPEND_TODAY:
        cap = Budget.objects.filter(brand_id=rule.brand_id).values_list("daily_cap", flat=True).first()
        if not cap:
            return Reading(None, 0)
        spent = SpendDay.objects.filter(brand_id=rule.brand_id, day=today).values_list("spent", flat=True).first()
        return Reading(float((spent or Decimal("0")) / cap), 1)
    brands = [rule.brand_id] if rule.brand_id else list(Brand.objects.values_list("pk", flat=True))
    filters = Filters(brands=brands, start=today - timedelta(days=rule.window_days - 1), end=today,
                      model_version=rule.model_version_id, prompt_version=rule.prompt_version_id)
    found = figures(facts_for(filters).aggregate(**rollup_aggregates()))
    return Reading(found[rule.metric], found[COUNTED[rule.metric]])


def _crossed(rule: AlertRule, value: float) -> bool:
    return value > rule.threshold if rule.direction == AlertRule.Direction.ABOVE else value < rule.threshold


def _recipients(rule: AlertRule) -> list[Any]:
    people = list(rule.recipients.filter(is_active=True)) or [u for u in [rule.created_by] if u]
    if rule.brand_id is None:
        return [u for u in people if u.is_superuser or u.is_staff]
    return [u for u in people if brands_for_user(u).filter(pk=rule.brand_id).exists()]


def describe(rule: AlertRule, value: float) -> str:
    label, unit = ALERT_METRICS[rule.metric]
    scope = " · ".join(str(x) for x in (rule.brand, rule.model_version, rule.prompt_version) if x) or "all brands"
    return (f"{rule.name}: {label} {rule.get_direction_display()} {format_value(rule.threshold, unit)} — now "
            f"{format_value(value, unit)} ({scope}, last {rule.window_days} day{'s' if rule.window_days != 1 else ''}).")


@transaction.atomic
def alert_evaluate(*, rule_id: int, now: Any = None) -> str:
    """Judge one rule: "fired", "rearmed", "unchanged" or "too_few" (fewer drafts than its minimum).
    The rule's row is locked, so two evaluations at once fire it once."""
    rule = AlertRule.objects.select_for_update(of=("self",)).select_related(
        "brand", "model_version", "prompt_version__template", "created_by").get(pk=rule_id)
    reading = reading_for(rule, now=now)
    rule.last_evaluated_at, rule.last_value, rule.last_n = timezone.now(), reading.value, reading.n
    outcome = "unchanged"
    if reading.value is None or reading.n < rule.min_drafts:
        outcome = "too_few"
    elif _crossed(rule, reading.value) and not rule.firing:
        rule.firing, rule.fired_at, outcome = True, rule.last_evaluated_at, "fired"
        message = describe(rule, reading.value)
        audit_log(action="insights.alert.fire", obj=rule, label="insights alerts",
                  data={"value": reading.value, "n": reading.n, "threshold": rule.threshold})
        query = f"?brand={rule.brand.slug}" if rule.brand else ""
        notify(users=_recipients(rule), kind=NotificationKind.INSIGHTS_ALERT, draft=None, actor=None,
               message=message, url=reverse("insights:page") + query)
    elif not _crossed(rule, reading.value) and rule.firing:
        rule.firing, outcome = False, "rearmed"
        audit_log(action="insights.alert.rearm", obj=rule, label="insights alerts",
                  data={"value": reading.value, "n": reading.n, "threshold": rule.threshold})
    rule.save(update_fields=["firing", "fired_at", "last_value", "last_n", "last_evaluated_at"])
    return outcome


def alerts_evaluate(*, now: Any = None) -> dict[str, int]:
    """Every active rule, each in its own transaction; returns how many ended each way."""
    counts: dict[str, int] = {}
    for rule_id in AlertRule.objects.filter(is_active=True).values_list("pk", flat=True):
        outcome = alert_evaluate(rule_id=rule_id, now=now)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
