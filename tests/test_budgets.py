"""Budgets and cost: reserve before each model call, settle after it, caps that hold under concurrency."""
from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from agents.calls import budgets
from agents.calls.budgets import BudgetExceeded, budget_reserve, budget_settle
from agents.models import AgentRun, Budget, SpendDay
from editorial.models import Draft
from tests.helpers import drive, file_brief

pytestmark = pytest.mark.slow
D = Decimal


@pytest.fixture
def model_at(settings, llm):
    settings.AIOS_LLM_BASE_URL = llm.base_url
    settings.AIOS_LLM_MODEL = "test-model"
    settings.AIOS_LLM_MODE = "completion"
    settings.AIOS_CALL_RETRY_BASE = 0.01
    return llm


def today_row(brand) -> SpendDay:
    return SpendDay.objects.get(brand=brand, day=timezone.localdate())


# --- reserve and settle --------------------------------------------------------------------------

def test_a_reservation_is_held_until_settled_and_then_the_actual_cost_is_booked(world):
    reservation = budget_reserve(brand=world.brand, amount=D("0.50"))
    assert (today_row(world.brand).reserved, today_row(world.brand).spent) == (D("0.5"), D("0"))
    budget_settle(reservation=reservation, cost=D("0.30"))
    assert (today_row(world.brand).reserved, today_row(world.brand).spent) == (D("0"), D("0.3"))


def test_a_free_call_holds_nothing_but_is_still_refused_once_the_brand_is_over_its_cap(world):
    reservation = budget_reserve(brand=world.brand, amount=D("0"))  # no caps: nothing to lock or hold
    budget_settle(reservation=reservation, cost=D("0"))
    assert not SpendDay.objects.filter(brand=world.brand).exists()
    Budget.objects.create(brand=world.brand, daily_cap=D("5.00"))
    SpendDay.objects.create(brand=world.brand, day=timezone.localdate(), spent=D("5.01"))
    with pytest.raises(BudgetExceeded):
        budget_reserve(brand=world.brand, amount=D("0"))


def test_settling_books_the_cost_even_when_the_day_row_was_removed_meanwhile(world):
    reservation = budget_reserve(brand=world.brand, amount=D("0.50"))
    SpendDay.objects.filter(brand=world.brand).delete()
    budget_settle(reservation=reservation, cost=D("0.30"))
    assert (today_row(world.brand).reserved, today_row(world.brand).spent) == (D("0"), D("0.3"))


def test_a_call_that_would_pass_the_daily_cap_fails_with_a_clear_message(world):
    Budget.objects.create(brand=world.brand, daily_cap=D("5.00"))
    SpendDay.objects.create(brand=world.brand, day=timezone.localdate(), spent=D("4.98"))
    with pytest.raises(BudgetExceeded) as caught:
        budget_reserve(brand=world.brand, amount=D("0.03"))
    assert str(caught.value) == "Northwind's daily budget of $5.00 is spent: $4.98 spent, $0.03 needed."
    assert caught.value.wait_seconds is None
    assert today_row(world.brand).reserved == 0  # nothing held for a refused call
    budget_reserve(brand=world.brand, amount=D("0.02"))  # what still fits goes through


def test_the_monthly_cap_counts_every_day_of_this_month_and_reservations_in_flight(world):
    Budget.objects.create(brand=world.brand, monthly_cap=D("10"))
    today = timezone.localdate()
    if today.day > 1:
        SpendDay.objects.create(brand=world.brand, day=today.replace(day=1), spent=D("6"))
    else:
        SpendDay.objects.create(brand=world.brand, day=today, spent=D("6"))
    SpendDay.objects.create(brand=world.brand, day=today.replace(day=1) - timedelta(days=1), spent=D("100"))
    budget_reserve(brand=world.brand, amount=D("3"))
    with pytest.raises(BudgetExceeded, match=r"monthly budget of \$10.00 is spent: \$9.00 spent, \$1.50 needed"):
        budget_reserve(brand=world.brand, amount=D("1.5"))


def test_a_brand_that_waits_is_told_when_to_look_again(world, settings):
    settings.AIOS_BUDGET_RECHECK_SECONDS = 600
    Budget.objects.create(brand=world.brand, daily_cap=D("1"), on_exceed="wait")
    budget_reserve(brand=world.brand, amount=D("0.6"))
    with pytest.raises(BudgetExceeded) as caught:
        budget_reserve(brand=world.brand, amount=D("0.5"))
    now = timezone.now()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert caught.value.wait_seconds == pytest.approx(min(600, (midnight - now).total_seconds()), abs=2)


def test_a_call_bigger_than_the_whole_cap_fails_even_when_the_brand_waits(world):
    Budget.objects.create(brand=world.brand, daily_cap=D("1"), on_exceed="wait")
    with pytest.raises(BudgetExceeded, match="costs more than the whole daily cap") as caught:
        budget_reserve(brand=world.brand, amount=D("1.5"))
    assert caught.value.wait_seconds is None


def test_tiny_amounts_are_shown_with_their_digits():
    assert budgets.money(D("0.0000420")) == "$0.000042"
    assert budgets.money(D("5")) == "$5.00"


def test_money_is_written_in_the_deployments_currency(settings):
    settings.AIOS_CURRENCY_SYMBOL = "€"
    assert budgets.money(D("5")) == "€5.00" and budgets.money(D("0.0000420")) == "€0.000042"


# --- in the pipeline ------------------------------------------------------------------------------

def test_every_call_is_costed_and_the_cost_adds_up_per_draft_brief_brand_and_day(world, model_at):
    model_at.malformed_next(1, after_tokens=4)  # a failed try that produced tokens costs too
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    writer = draft.runs.get(kind="write")
    mv = world.model_version
    good = sum(((D(s.tokens_in) * mv.price_per_input_token + D(s.tokens_out) * mv.price_per_output_token)
                for s in writer.sections.all()), D(0))
    assert writer.cost > good > 0 and writer.reserved_cost == 0
    row = today_row(world.brand)
    assert row.reserved == 0 and row.spent == writer.cost
    assert sum(AgentRun.objects.filter(draft=draft).values_list("cost", flat=True)) == writer.cost
    assert list(SpendDay.objects.filter(brand=world.brand).values("day", "spent", "reserved")) == [
        {"day": timezone.localdate(), "spent": writer.cost, "reserved": D(0)}]
    assert not SpendDay.objects.filter(brand=world.other_brand, spent__gt=0).exists()
    assert draft.current_revision.provenance["cost"] == str(writer.cost)


def test_a_run_over_the_daily_cap_fails_before_calling_the_model(world, model_at):
    Budget.objects.create(brand=world.brand, daily_cap=D("0.0001"))
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.FAILED
    assert "Northwind's daily budget of $0.0001 is spent: $0.00 spent" in draft.status_reason
    assert not model_at.requests


def test_a_run_that_waits_for_budget_goes_back_to_the_queue_without_using_attempts(world, model_at, settings):
    settings.AIOS_BUDGET_RECHECK_SECONDS = 120
    budget = Budget.objects.create(brand=world.brand, daily_cap=D("0.01"), on_exceed="wait")
    SpendDay.objects.create(brand=world.brand, day=timezone.localdate(), spent=D("0.0099"))
    draft = file_brief(world)
    retries = drive(draft, max_steps=4)
    writer = draft.runs.get(kind="write")
    draft.refresh_from_db()
    assert retries and all(r.countdown <= 120 for r in retries)
    assert writer.status == "queued" and writer.attempt_count == 0
    assert draft.status == Draft.Status.GENERATING and draft.status_reason.startswith("Waiting for budget:")
    assert not model_at.requests

    budget.daily_cap = D("1")
    budget.save()
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW


def test_the_per_run_token_cap_fails_the_run_with_the_numbers(world, model_at):
    Budget.objects.create(brand=world.brand, run_token_cap=100)
    draft = file_brief(world)
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.FAILED
    assert "Northwind's per-run cap of 100 tokens would be exceeded" in draft.status_reason
    assert not model_at.requests


# --- the race --------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_reservations_never_overshoot_the_cap():
    """50 threads, each with its own database connection, reserve $0.10 against a $2.00 daily cap
    at the same moment, hold it briefly and settle: exactly 20 get through, none beyond the cap."""
    from tests.factories import build_world

    world = build_world()
    Budget.objects.create(brand=world.brand, daily_cap=D("2.00"), monthly_cap=D("50"))
    barrier = threading.Barrier(50)
    granted: list[Decimal] = []
    refused: list[str] = []
    peak = {"value": D(0)}
    lock = threading.Lock()

    def caller() -> None:
        try:
            barrier.wait()
            try:
                reservation = budget_reserve(brand=world.brand, amount=D("0.10"))
            except BudgetExceeded as exc:
                refused.append(str(exc))
                return
            row = SpendDay.objects.get(brand=world.brand, day=reservation.day)
            with lock:
                granted.append(reservation.amount)
                peak["value"] = max(peak["value"], row.spent + row.reserved)
            budget_settle(reservation=reservation, cost=D("0.10"))
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    row = today_row(world.brand)
    assert len(granted) == 20 and len(refused) == 30
    assert row.spent == D("2.00") and row.reserved == 0 and peak["value"] <= D("2.00")
    assert all("daily budget of $2.00 is spent" in message for message in refused)


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_reservations_of_a_brand_without_caps_all_land_on_one_day_row():
    """Without caps nothing is checked, so reserving takes no lock: 20 threads reserving and settling
    at once, the day's row made by whichever comes first, still add up exactly."""
    from tests.factories import build_world

    world = build_world()
    barrier = threading.Barrier(20)

    def caller() -> None:
        try:
            barrier.wait()
            reservation = budget_reserve(brand=world.brand, amount=D("0.10"))
            budget_settle(reservation=reservation, cost=D("0.05"))
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert SpendDay.objects.filter(brand=world.brand).count() == 1
    row = today_row(world.brand)
    assert (row.spent, row.reserved) == (D("1.00"), D("0"))


# --- admin -----------------------------------------------------------------------------------------

def test_the_admin_shows_spend_against_the_caps(admin_client, world):
    from governance.models import AuditEvent

    Budget.objects.create(brand=world.brand, daily_cap=D("5"), monthly_cap=D("100"))
    SpendDay.objects.create(brand=world.brand, day=timezone.localdate(), spent=D("1.25"), reserved=D("0.25"))
    page = admin_client.get("/admin/agents/budget/").content.decode()
    assert "$1.50 of $5.00 (30%)" in page and "$0.25" in page and "$1.50 of $100.00 (2%)" in page
    assert admin_client.get("/admin/agents/spendday/").status_code == 200
    budget = Budget.objects.get(brand=world.brand)
    response = admin_client.post(f"/admin/agents/budget/{budget.pk}/change/", {
        "brand": world.brand.pk, "daily_cap": "7", "monthly_cap": "100", "run_token_cap": "", "on_exceed": "wait"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="agents.budget.change")
    assert event.data["daily_cap"] in ("7", 7, "7.0000") and "on_exceed" in event.data
