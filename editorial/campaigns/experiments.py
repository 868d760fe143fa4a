"""A/B tests between variants written for the same audience: creating one with its split, the CMS's
signed outcome reports (counted once per report id), the statistics, and promoting the winner
(published to everyone through the publish service, the losers retracted through the retract one)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from editorial.campaigns.models import Campaign, Experiment, ExperimentArm, OutcomeReport, Variant
from editorial.models import Draft
from editorial.transitions import draft_transition
from governance.audit import audit_log
from governance.models import Connector
from governance.permissions import brands_for_user
from governance.publishing.delivery import webhook_verify
from governance.publishing.publish import draft_publish, draft_retract

EXPERIMENT_PERM = "campaigns.add_experiment"
OUTCOME_TYPE = "experiment.outcome"
# Below these the normal approximation behind the test and the interval is not to be trusted.
MIN_IMPRESSIONS = 100
MIN_EVENTS = 10
ALPHA = 0.05
METRICS = {"conversions": "Conversion rate", "clicks": "Click rate"}


def user_can_run_experiments(user: Any, campaign: Campaign) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or (
        user.has_perm(EXPERIMENT_PERM) and brands_for_user(user).filter(pk=campaign.brand_id).exists()
    )


@transaction.atomic
def experiment_create(*, user: Any, campaign: Campaign, name: str, variants: list[Variant], shares: list[int]
                      ) -> Experiment:
    """Two or more variants for the same segment and channel, each shown to its share of the audience."""
    if not user_can_run_experiments(user, campaign):
        raise PermissionDenied("You cannot run experiments for this brand.")
    if not name.strip():
        raise ValidationError({"name": "Give the experiment a name."})
    if len(variants) < 2 or len({v.pk for v in variants}) != len(variants):
        raise ValidationError({"variants": "Choose two or more different variants."})
    if any(v.campaign_id != campaign.pk for v in variants):
        raise ValidationError({"variants": "The variants must belong to this campaign."})
    if len({(v.segment_id, v.channel) for v in variants}) != 1:
        raise ValidationError({"variants": "An A/B test compares variants for the same segment and channel."})
    if len(shares) != len(variants) or any(s < 1 for s in shares) or sum(shares) != 100:
        raise ValidationError({"shares": "Give every variant a share of at least 1%; the shares add up to 100."})
    experiment = Experiment.objects.create(campaign=campaign, name=name.strip(), created_by=user)
    ExperimentArm.objects.bulk_create(
        [ExperimentArm(experiment=experiment, variant=v, share=s) for v, s in zip(variants, shares)])
    audit_log(action="campaigns.experiment.create", obj=experiment, user=user, data={
        "campaign": campaign.pk, "split": {str(v.pk): s for v, s in zip(variants, shares)},
    })
    return experiment


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
        raise ValidationError({f"data.{key}": "Expected a whole number from 0 to 1,000,000,000."})
    return value


@dataclass
class RecordedOutcome:
    report: OutcomeReport
    replayed: bool


@transaction.atomic
def outcome_report_record(*, connector: Connector, body: str, headers: dict[str, str]) -> RecordedOutcome:
    """The CMS reports what one variant did, signed like delivery callbacks (Standard Webhooks). A
    report id is counted once: a replay answers with the report already recorded."""
    payload = webhook_verify(connector=connector, body=body, headers=headers)
    if not isinstance(payload, dict) or payload.get("type") != OUTCOME_TYPE:
        raise ValidationError({"type": f"Expected “{OUTCOME_TYPE}”."})
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    report_id = str(data.get("report_id") or "").strip()
    if not report_id or len(report_id) > 200:
        raise ValidationError({"data.report_id": "Give each report an id (at most 200 characters)."})
    existing = OutcomeReport.objects.filter(report_id=report_id).first()
    if existing is not None:
        if existing.connector_id != connector.pk:
            raise ValidationError({"data.report_id": "This report id was used by another connector."})
        return RecordedOutcome(existing, True)
    arm = ExperimentArm.objects.select_related("experiment__campaign", "variant").filter(
        experiment_id=data.get("experiment_id") if isinstance(data.get("experiment_id"), int) else None,
        variant_id=data.get("variant_id") if isinstance(data.get("variant_id"), int) else None,
    ).first()
    if arm is None or arm.experiment.campaign.brand_id != connector.brand_id:
        raise ValidationError({"data.variant_id": "No such variant in an experiment of this connector's brand."})
    counts = {k: _count(data, k) for k in ("impressions", "clicks", "conversions")}
    if counts["clicks"] > counts["impressions"] or counts["conversions"] > counts["impressions"]:
        raise ValidationError({"data": "Clicks and conversions cannot exceed impressions."})
    try:
        with transaction.atomic():
            report = OutcomeReport.objects.create(report_id=report_id, experiment=arm.experiment,
                                                  variant_id=arm.variant_id, connector=connector, **counts)
    except IntegrityError:  # the same report arriving twice at once: the other request counted it
        return RecordedOutcome(OutcomeReport.objects.get(report_id=report_id), True)
    # "draft": the insights refresh takes the report into that draft's figures (editorial/insights/facts.py).
    audit_log(action="campaigns.outcome.record", obj=arm.experiment, label=f"CMS {connector.name}",
              data={"report": report_id, "variant": arm.variant_id, "draft": arm.variant.draft_id, **counts})
    return RecordedOutcome(report, False)


@dataclass
class ArmResult:
    arm: ExperimentArm
    impressions: int
    clicks: int
    conversions: int
    events: int  # of the chosen metric
    rate: float | None
    # Against the control (the first arm): absolute difference, its CI, relative uplift, p-value.
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    uplift: float | None = None
    p_value: float | None = None

    def pct(self, name: str) -> float | None:
        value = getattr(self, name)
        return None if value is None else 100 * value

    @property
    def percents(self) -> dict[str, float | None]:
        """Rate, difference (points), interval (points) and uplift, in percent, for the page."""
        return {k: self.pct(k) for k in ("rate", "diff", "ci_low", "ci_high", "uplift")}

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < ALPHA


@dataclass
class ExperimentResults:
    metric: str
    arms: list[ArmResult]
    warnings: list[str]


def experiment_results(experiment: Experiment, *, metric: str = "conversions") -> ExperimentResults:
    """Rates per arm and, for each arm against the first, the difference with its 95% interval (Wald),
    the relative uplift and the two-sided p-value of the pooled two-proportion z-test (statsmodels)."""
    if metric not in METRICS:
        raise ValidationError({"metric": f"Choose one of: {', '.join(METRICS)}."})
    totals = {
        row["variant_id"]: row for row in experiment.reports.values("variant_id").annotate(
            impressions=Sum("impressions"), clicks=Sum("clicks"), conversions=Sum("conversions"))
    }
    results = []
    for arm in experiment.arms.select_related("variant__segment", "variant__draft"):
        row = totals.get(arm.variant_id, {})
        n = row.get("impressions") or 0
        counts = {k: row.get(k) or 0 for k in ("clicks", "conversions")}
        results.append(ArmResult(arm=arm, impressions=n, events=counts[metric], rate=counts[metric] / n if n else None,
                                 **counts))
    warnings = []
    if results:
        control = results[0]
        for result in results[1:]:
            if not (control.impressions and result.impressions):
                continue
            result.diff = result.rate - control.rate
            low, high = confint_proportions_2indep(result.events, result.impressions, control.events,
                                                   control.impressions, compare="diff", method="wald", alpha=ALPHA)
            result.ci_low, result.ci_high = float(low), float(high)
            result.uplift = result.diff / control.rate if control.rate else None
            if control.events + result.events and (control.impressions - control.events) + (
                    result.impressions - result.events):
                _, p = proportions_ztest([result.events, control.events], [result.impressions, control.impressions])
                result.p_value = None if math.isnan(p) else float(p)
    small = [r for r in results if r.impressions < MIN_IMPRESSIONS or r.events < MIN_EVENTS]
    if small:
        names = ", ".join(f"variant {r.arm.variant.arm}" for r in small)
        warnings.append(f"Too small a sample to judge yet ({names}): wait for at least {MIN_IMPRESSIONS} "
                        f"impressions and {MIN_EVENTS} {metric} per variant; rates this small swing by chance.")
    return ExperimentResults(metric=metric, arms=results, warnings=warnings)


@transaction.atomic
def experiment_promote(*, experiment: Experiment, user: Any, winner: Variant) -> Experiment:
    """The winner goes to everyone (published, or sent again as an update saying so); every published
    loser is retracted. Each through the publishing services, which check the user may publish."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if not user_can_run_experiments(user, experiment.campaign):
        raise PermissionDenied("You cannot run experiments for this brand.")
    if experiment.status != Experiment.Status.RUNNING:
        raise ValidationError("This experiment's winner was already promoted.")
    arms = list(experiment.arms.select_related("variant__draft"))
    if winner.pk not in {a.variant_id for a in arms}:
        raise ValidationError({"winner": "The winner must be one of the experiment's variants."})
    experiment.status, experiment.winner, experiment.promoted_at = Experiment.Status.PROMOTED, winner, timezone.now()
    experiment.save(update_fields=["status", "winner", "promoted_at"])
    audit_log(action="campaigns.experiment.promote", obj=experiment, user=user, data={
        "winner": winner.pk, "losers": [a.variant_id for a in arms if a.variant_id != winner.pk],
    })
    draft = Draft.objects.select_for_update(of=("self",)).get(pk=winner.draft_id)
    if draft.status == Draft.Status.PUBLISHED:
        # Back to approved for a moment so the publish service sends the update that says "everyone".
        draft_transition(draft=draft, to=Draft.Status.APPROVED, action="campaigns.experiment.promote", user=user,
                         data={"experiment": experiment.pk})
    draft_publish(draft=draft, user=user)
    for arm in arms:
        if arm.variant_id == winner.pk:
            continue
        loser = arm.variant.draft
        if loser.status == Draft.Status.PUBLISHED:
            draft_retract(draft=loser, user=user,
                          reason=f"Lost the experiment “{experiment.name}” to variant {winner.arm}.")
    return experiment
