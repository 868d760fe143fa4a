"""Budgets: reserve before a model call, settle after it; spend against the caps.

Every reservation of a brand locks that brand's SpendDay row of today (`select_for_update`), so
reservations of one brand are serialised: the daily total (spent + reserved) and the monthly total
(the sum of this month's rows, read while holding today's lock) are checked against the caps with
no other reservation in between. A cap can therefore only be overshot by what a call costs beyond
its estimate (the estimate is prompt tokens + max_tokens at the version's prices, so in practice
by at most one in-flight call's difference).

Settling releases the reservation and adds the actual cost (usage × price) to the row of the day
the reservation was made on.
"""
from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from types import EllipsisType
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from agents.models import AgentRun, Budget, SpendDay

ZERO = Decimal(0)


class BudgetExceeded(Exception):
    """A call would exceed a cap. `wait_seconds` is set when the brand chose to wait (Budget.on_exceed)."""

    def __init__(self, message: str, *, wait_seconds: float | None = None) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


@dataclass
class Reservation:
    brand_id: int
    day: date
    amount: Decimal


def money(amount: Decimal) -> str:
    """$5.00 (in AIOS_CURRENCY_SYMBOL); tiny amounts keep their significant digits ($0.000042) instead of
    reading $0.00."""
    symbol = settings.AIOS_CURRENCY_SYMBOL
    if amount == 0 or abs(amount) >= Decimal("0.01"):
        return f"{symbol}{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"
    return f"{symbol}{amount.normalize():f}"


def call_cost(version: Any, *, tokens_in: int, tokens_out: int) -> Decimal:
    return Decimal(tokens_in) * version.price_per_input_token + Decimal(tokens_out) * version.price_per_output_token


def estimate_tokens(text: str) -> int:
    """A generous prompt-token estimate without a tokenizer: about 4 characters or one word per token."""
    return max(len(text.split()), math.ceil(len(text) / 4))


def _seconds_until_reset(*, monthly: bool) -> float:
    now = timezone.now()
    today = timezone.localdate(now)
    if monthly:
        days = calendar.monthrange(today.year, today.month)[1] - today.day + 1
    else:
        days = 1
    reset = timezone.make_aware(datetime.combine(today + timedelta(days=days), time.min))
    return max(1.0, (reset - now).total_seconds())


def _exceeded(brand: Any, budget: Budget, *, period: str, cap: Decimal, used: Decimal, needed: Decimal) -> BudgetExceeded:
    message = (
        f"{brand.name}'s {period} budget of {money(cap)} is spent: {money(used)} spent, {money(needed)} needed."
    )
    if needed > cap:
        # Waiting would never help: one call costs more than the whole cap (lower max_tokens or raise the cap).
        return BudgetExceeded(f"{message} One call of this model costs more than the whole {period} cap.")
    if budget.on_exceed == "wait":
        wait = min(_seconds_until_reset(monthly=period == "monthly"), settings.AIOS_BUDGET_RECHECK_SECONDS)
        return BudgetExceeded(message, wait_seconds=wait)
    return BudgetExceeded(message)


def budget_for(brand: Any) -> Budget | None:
    """The brand's caps (None: it has none). A model call reads them once and passes them on."""
    return Budget.objects.filter(brand_id=brand.pk).first()


def check_run_tokens(*, brand: Any, used: int, needed: int, budget: Budget | None | EllipsisType = ...) -> None:
    """The brand's per-run token cap (in + out). Waiting cannot help, so this always fails.
    `budget`: the brand's caps when the caller has just read them (`budget_for`); read here otherwise."""
    if budget is ...:
        budget = budget_for(brand)
    if budget is None or budget.run_token_cap is None:
        return
    if used + needed > budget.run_token_cap:
        raise BudgetExceeded(
            f"{brand.name}'s per-run cap of {budget.run_token_cap} tokens would be exceeded: "
            f"{used} tokens used, up to {needed} more needed for the next call."
        )


def _locked_day(brand_id: int, day: date) -> SpendDay:
    """Today's row of the brand, locked; created first when this is the day's first call."""
    row = SpendDay.objects.select_for_update().filter(brand_id=brand_id, day=day).first()
    if row is None:
        SpendDay.objects.bulk_create([SpendDay(brand_id=brand_id, day=day)], ignore_conflicts=True)
        row = SpendDay.objects.select_for_update().get(brand_id=brand_id, day=day)
    return row


def _book(brand_id: int, day: date, **change: Any) -> None:
    """Apply `change` to the brand's row of `day`, made first when this is the day's first booking."""
    rows = SpendDay.objects.filter(brand_id=brand_id, day=day)
    if not rows.update(**change):
        SpendDay.objects.bulk_create([SpendDay(brand_id=brand_id, day=day)], ignore_conflicts=True)
        rows.update(**change)


@transaction.atomic
def budget_reserve(
    *, brand: Any, amount: Decimal, run_id: int | None = None, budget: Budget | None | EllipsisType = ...,
) -> Reservation:
    """Hold `amount` for a call of `brand`, or raise BudgetExceeded with the reason. `budget`: the
    brand's caps when the caller has just read them (`budget_for`); read here otherwise. A free call
    (amount 0) is still checked against the caps, when the brand has any, but changes no row."""
    day = timezone.localdate()
    if budget is ...:
        budget = budget_for(brand)
    if not amount and budget is None:
        return Reservation(brand_id=brand.pk, day=day, amount=amount)  # nothing to hold, no cap to check
    if budget is not None:
        row = _locked_day(brand.pk, day)
        if budget.daily_cap is not None:
            used = row.spent + row.reserved
            if used + amount > budget.daily_cap:
                raise _exceeded(brand, budget, period="daily", cap=budget.daily_cap, used=used, needed=amount)
        if budget.monthly_cap is not None:
            # Read under today's row lock: every reservation of this brand takes that lock first.
            used = _month_total(brand.pk, day)
            if used + amount > budget.monthly_cap:
                raise _exceeded(brand, budget, period="monthly", cap=budget.monthly_cap, used=used, needed=amount)
    if amount:
        # Without caps nothing is checked, so the day's row need not be locked first: one UPDATE.
        _book(brand.pk, day, reserved=F("reserved") + amount)
        if run_id is not None:
            AgentRun.objects.filter(pk=run_id).update(reserved_cost=F("reserved_cost") + amount)
    return Reservation(brand_id=brand.pk, day=day, amount=amount)


@transaction.atomic
def budget_settle(*, reservation: Reservation, cost: Decimal, run_id: int | None = None) -> None:
    """Release the reservation and book the actual cost (also on the run, when given). A free call
    that held nothing changes no row."""
    if not reservation.amount and not cost:
        return
    _book(reservation.brand_id, reservation.day,
          reserved=Greatest(F("reserved") - reservation.amount, Value(ZERO)), spent=F("spent") + cost)
    if run_id is not None:
        AgentRun.objects.filter(pk=run_id).update(
            reserved_cost=Greatest(F("reserved_cost") - reservation.amount, Value(ZERO)), cost=F("cost") + cost
        )


@transaction.atomic
def budget_release_run(*, run: AgentRun) -> None:
    """Give back what a run still holds (its worker died between reserving and settling)."""
    held = AgentRun.objects.filter(pk=run.pk).values_list("reserved_cost", flat=True).first() or ZERO
    if held <= 0:
        return
    day = timezone.localdate(run.heartbeat_at or timezone.now())
    SpendDay.objects.select_for_update().filter(brand_id=run.draft.brand_id, day=day).update(
        reserved=Greatest(F("reserved") - held, Value(ZERO))
    )
    AgentRun.objects.filter(pk=run.pk).update(reserved_cost=ZERO)


def _month_total(brand_id: int, day: date) -> Decimal:
    total = SpendDay.objects.filter(brand_id=brand_id, day__gte=day.replace(day=1), day__lte=day).aggregate(
        total=Sum(F("spent") + F("reserved"))
    )["total"]
    return total or ZERO


# --- selectors ----------------------------------------------------------------------------------

def spend_against_caps(*, brand: Any) -> dict[str, Any]:
    """Today's and this month's spend (and reservations in flight) next to the brand's caps."""
    today = timezone.localdate()
    row = SpendDay.objects.filter(brand=brand, day=today).first()
    budget = Budget.objects.filter(brand=brand).first()
    return {
        "today_spent": row.spent if row else ZERO,
        "today_reserved": row.reserved if row else ZERO,
        "month_total": _month_total(brand.pk, today),
        "daily_cap": budget.daily_cap if budget else None,
        "monthly_cap": budget.monthly_cap if budget else None,
    }
