"""Alert rules on the insights figures: fire once per crossing through the notifications (in the app and
by e-mail), audited, re-arm when the figure is back; today's spend against the cap; the admin form."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from agents.models import Budget, SpendDay
from editorial.insights.alerts import SPEND_TODAY, alert_evaluate, alert_rule_save, alerts_evaluate
from editorial.insights.facts import facts_refresh
from editorial.insights.models import AlertRule, DraftFact
from editorial.models import Notification
from governance.models import AuditEvent
from tests.factories import UserFactory
from tests.insights_history import seed_history

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def history(world):
    seeded = seed_history(world)
    facts_refresh(everything=True)
    return seeded


def edit_rate_rule(world, **kw) -> AlertRule:
    rule = AlertRule(name="Edit rate too high", metric="edit_rate", threshold=0.4, brand=world.brand,
                     model_version=world.model_version, min_drafts=2, window_days=30, **kw)
    alert_rule_save(rule=rule, user=world.editor)
    rule.recipients.add(world.editor, world.outsider)
    return rule


def test_a_rule_fires_once_per_crossing_and_rearms_when_the_figure_is_back(world, history,
                                                                             django_capture_on_commit_callbacks):
    rule = edit_rate_rule(world)
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_evaluate(rule_id=rule.pk, now=NOW) == "fired"  # 1 of 2 approved edited: 50% > 40%
    notes = Notification.objects.filter(kind="insights_alert")
    assert [n.user for n in notes.all()] == [world.editor]  # the outsider does not see Northwind: not told
    assert "Edit rate (approved text differs) rises above 40.0% — now 50.0%" in notes[0].message
    assert notes[0].url == reverse("insights:page") + "?brand=northwind"
    assert [m.to for m in mail.outbox] == [[world.editor.email]]
    assert alert_evaluate(rule_id=rule.pk, now=NOW) == "unchanged"
    assert notes.all().count() == 1

    DraftFact.objects.filter(edited=True).update(edited=False)
    assert alert_evaluate(rule_id=rule.pk, now=NOW) == "rearmed"
    assert alert_evaluate(rule_id=rule.pk, now=NOW) == "unchanged"
    DraftFact.objects.filter(draft=history.drafts[0]).update(edited=True)
    assert alert_evaluate(rule_id=rule.pk, now=NOW) == "fired"
    assert notes.all().count() == 2
    actions = list(AuditEvent.objects.filter(object_type="insights.alertrule").order_by("id")
                   .values_list("action", flat=True))
    assert actions == ["insights.alert_rule.create", "insights.alert.fire", "insights.alert.rearm",
                       "insights.alert.fire"]


def test_a_rule_does_not_judge_fewer_drafts_than_its_minimum(world, history):
    rule = edit_rate_rule(world)
    AlertRule.objects.filter(pk=rule.pk).update(min_drafts=20)
    assert alerts_evaluate(now=NOW) == {"too_few": 1}
    rule.refresh_from_db()
    assert not rule.firing and rule.last_n == 2 and rule.last_value == 0.5
    assert not Notification.objects.exists()


def test_todays_spend_above_a_share_of_the_daily_cap_fires(world):
    rule = AlertRule(name="Spend", metric=SPEND_TODAY, threshold=0.8, brand=world.brand, min_drafts=1)
    alert_rule_save(rule=rule, user=world.editor)
    Budget.objects.create(brand=world.brand, daily_cap=Decimal("10"))
    SpendDay.objects.create(brand=world.brand, day=NOW.date(), spent=Decimal("7.5"))
    assert alert_evaluate(rule_id=rule.pk, now=NOW) == "unchanged"
    SpendDay.objects.filter(brand=world.brand).update(spent=Decimal("8.5"))
    assert alert_evaluate(rule_id=rule.pk, now=NOW) == "fired"
    assert "now 85.0%" in Notification.objects.get(kind="insights_alert").message  # the creator is told


def test_a_spend_rule_needs_a_brand_and_a_metric_must_exist(world):
    with pytest.raises(ValidationError, match="per brand"):
        alert_rule_save(rule=AlertRule(name="Spend", metric=SPEND_TODAY, threshold=0.8), user=world.editor)
    with pytest.raises(ValidationError, match="listed metrics"):
        alert_rule_save(rule=AlertRule(name="X", metric="happiness", threshold=1), user=world.editor)
    assert not AlertRule.objects.exists()


def test_an_admin_sets_a_rule_in_the_admin_and_it_is_audited(client, world):
    admin = UserFactory(username="ada", is_staff=True, is_superuser=True)
    client.force_login(admin)
    url = reverse("admin:insights_alertrule_add")
    assert client.get(url).status_code == 200
    data = {"name": "Slow generation", "metric": "generation_p95_s", "direction": "above", "threshold": "60",
            "brand": "", "model_version": world.model_version.pk, "prompt_version": "", "min_drafts": "20",
            "window_days": "7", "recipients": [admin.pk], "is_active": "on"}
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AlertRule.objects.get()
    assert rule.created_by == admin and list(rule.recipients.all()) == [admin]
    assert AuditEvent.objects.filter(action="insights.alert_rule.create", object_id=str(rule.pk)).exists()
    bad = client.post(url, {**data, "metric": SPEND_TODAY})
    assert bad.status_code == 200 and "Today&#x27;s spend is per brand" in bad.content.decode()
    assert AlertRule.objects.count() == 1
