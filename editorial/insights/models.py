"""Insights rollups: one fact row per draft (and its gates, send-back reasons and findings), kept up to
date from the audit log by `editorial/insights/facts.py`. The page and the API aggregate these rows,
never the revisions or runs themselves, so their query count does not depend on the data's size."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models


class StatusChange(models.Model):
    """A copy of one audited move of `Draft.status`, read from the audit log (append-only, by id)."""

    draft = models.ForeignKey("editorial.Draft", on_delete=models.CASCADE, related_name="+")
    audit_id = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    old = models.CharField(max_length=20)
    new = models.CharField(max_length=20)

    class Meta:
        ordering = ["draft", "at", "audit_id"]
        indexes = [models.Index(fields=["draft", "at"])]


class FeedCursor(models.Model):
    """How far the refresh has read the audit log, and when it last ran (one row)."""

    last_audit_id = models.BigIntegerField(default=0)
    last_outcome_id = models.BigIntegerField(
        default=0, help_text="How far the refresh has read the experiments' outcome reports (by id).")
    refreshed_at = models.DateTimeField(null=True, blank=True)


class DraftFact(models.Model):
    """Everything the metrics need about one draft, in one row."""

    draft = models.OneToOneField("editorial.Draft", on_delete=models.CASCADE, primary_key=True, related_name="+")
    brand = models.ForeignKey("governance.Brand", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey("agents.ModelVersion", null=True, on_delete=models.SET_NULL, related_name="+")
    prompt_version = models.ForeignKey(
        "agents.PromptTemplateVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    template = models.ForeignKey("agents.PromptTemplate", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=20)
    created_at = models.DateTimeField(help_text="When the brief was filed: figures are by this day.")
    status = models.CharField(max_length=20)
    # speed
    generation_s = models.FloatField(null=True, help_text="Brief filed → first in review.")
    ttft_ms = models.FloatField(null=True, help_text="Mean time to first token of the write runs.")
    write_tokens = models.PositiveIntegerField(default=0)
    write_s = models.FloatField(default=0.0)
    # cost
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    # editing
    words = models.PositiveIntegerField(default=0)
    approved = models.BooleanField(default=False)
    published = models.BooleanField(default=False)
    edited = models.BooleanField(null=True, help_text="Approved text differs from the agent's (approved drafts).")
    edit_share = models.FloatField(null=True, help_text="Share of words changed, first agent revision → approved.")
    section_rewrites = models.PositiveIntegerField(default=0)
    # review
    approval_s = models.FloatField(null=True, help_text="First in review → first approved.")
    to_publish_s = models.FloatField(null=True, help_text="Brief filed → first published.")
    send_backs = models.PositiveIntegerField(default=0)
    rejected = models.BooleanField(default=False)
    # escalations and failures
    needs_human = models.BooleanField(default=False)
    failed_runs = models.PositiveIntegerField(default=0)
    recoveries = models.PositiveIntegerField(default=0)
    recover_s = models.FloatField(default=0.0, help_text="Total time from failed / needs a human back to in review.")
    # findings
    blocking_findings = models.PositiveIntegerField(default=0)
    overrides = models.PositiveIntegerField(default=0)
    factual_sentences = models.PositiveIntegerField(default=0)
    unsupported = models.PositiveIntegerField(default=0)
    # outcomes the CMS reported for the draft as an experiment's variant (every report counted once)
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    conversions = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("view_insights", "Can see the insights of their brands (brand leads)")]
        indexes = [
            models.Index(fields=["brand", "created_at"], name="fact_brand_day_idx"),
            models.Index(fields=["created_at"], name="fact_day_idx"),
            models.Index(fields=["model_version", "created_at"], name="fact_model_day_idx"),
            models.Index(fields=["prompt_version", "created_at"], name="fact_prompt_day_idx"),
        ]


class GateFact(models.Model):
    """Approval latency at one gate: the draft's first in review → the gate's first approval."""

    fact = models.ForeignKey(DraftFact, on_delete=models.CASCADE, related_name="gates")
    gate = models.ForeignKey("governance.Gate", on_delete=models.CASCADE, related_name="+")
    seconds = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fact", "gate"], name="gate_fact_unique")]


class ReasonFact(models.Model):
    """A send-back or rejection with its reason (the sign-off's comment, or the draft's status reason)."""

    fact = models.ForeignKey(DraftFact, on_delete=models.CASCADE, related_name="reasons")
    decision = models.CharField(max_length=20)
    reason = models.CharField(max_length=120, help_text="Normalised: lower case, first words.")


class FindingFact(models.Model):
    fact = models.ForeignKey(DraftFact, on_delete=models.CASCADE, related_name="findings")
    category = models.CharField(max_length=40)
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fact", "category"], name="finding_fact_unique")]


class AlertRule(models.Model):
    """A threshold on one metric, for a brand and/or a model or prompt version, evaluated over the last
    `window_days` (editorial/insights/alerts.py). It fires once when the figure crosses the threshold
    and re-arms when it is back on the right side."""

    class Direction(models.TextChoices):
        ABOVE = "above", "rises above"
        BELOW = "below", "falls below"

    name = models.CharField(max_length=120)
    metric = models.CharField(max_length=40, help_text="A metric of the Insights page, or today's spend / daily cap.")
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.ABOVE)
    threshold = models.FloatField(help_text="Shares as fractions (0.4 = 40%), times in seconds, money in dollars.")
    brand = models.ForeignKey("governance.Brand", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="+", help_text="Empty: every brand.")
    model_version = models.ForeignKey("agents.ModelVersion", null=True, blank=True, on_delete=models.CASCADE,
                                      related_name="+")
    prompt_version = models.ForeignKey("agents.PromptTemplateVersion", null=True, blank=True,
                                       on_delete=models.CASCADE, related_name="+")
    min_drafts = models.PositiveIntegerField(default=20, help_text="Judge only over at least this many drafts (outcome metrics: drafts with outcomes).")
    window_days = models.PositiveSmallIntegerField(default=7, help_text="Drafts filed in the last N days.")
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+",
                                        help_text="Told in the app and by e-mail (only those who see the brand).")
    is_active = models.BooleanField(default=True)
    firing = models.BooleanField(default=False, editable=False)
    last_value = models.FloatField(null=True, blank=True, editable=False)
    last_n = models.PositiveIntegerField(null=True, blank=True, editable=False)
    last_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)
    fired_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DayKey(models.Model):
    """One local day (TIME_ZONE) × brand × model version × prompt version × template × channel
    (editorial/insights/rollups.py). Rows are additive: the same key twice sums the same."""

    day = models.DateField()
    brand = models.ForeignKey("governance.Brand", on_delete=models.CASCADE, related_name="+")
    model_version = models.ForeignKey("agents.ModelVersion", null=True, on_delete=models.SET_NULL, related_name="+")
    prompt_version = models.ForeignKey(
        "agents.PromptTemplateVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    template = models.ForeignKey("agents.PromptTemplate", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=20)

    class Meta:
        abstract = True


class DayRollup(DayKey):
    """The counts, sums and duration histograms of one day × key's fact rows."""

    drafts = models.PositiveIntegerField(default=0)
    reviewed = models.PositiveIntegerField(default=0)
    published = models.PositiveIntegerField(default=0)
    approved = models.PositiveIntegerField(default=0)
    sent_back = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    needs_human = models.PositiveIntegerField(default=0)
    ttft_sum = models.FloatField(default=0.0)
    ttft_n = models.PositiveIntegerField(default=0)
    edited = models.PositiveIntegerField(default=0)
    edit_n = models.PositiveIntegerField(default=0)
    edit_share_sum = models.FloatField(default=0.0)
    edit_share_n = models.PositiveIntegerField(default=0)
    write_tokens = models.BigIntegerField(default=0)
    write_s = models.FloatField(default=0.0)
    cost = models.DecimalField(max_digits=16, decimal_places=8, default=Decimal("0"))
    section_rewrites = models.PositiveIntegerField(default=0)
    failed_runs = models.PositiveIntegerField(default=0)
    recoveries = models.PositiveIntegerField(default=0)
    recover_s = models.FloatField(default=0.0)
    words = models.BigIntegerField(default=0)
    blocking_findings = models.PositiveIntegerField(default=0)
    overrides = models.PositiveIntegerField(default=0)
    factual_sentences = models.PositiveIntegerField(default=0)
    unsupported = models.PositiveIntegerField(default=0)
    outcome_drafts = models.PositiveIntegerField(default=0, help_text="Drafts with at least one impression.")
    impressions = models.BigIntegerField(default=0)
    clicks = models.BigIntegerField(default=0)
    conversions = models.BigIntegerField(default=0)
    gen_hist = models.BinaryField(default=b"", help_text="Generation seconds: packed histogram (rollups.py).")
    appr_hist = models.BinaryField(default=b"", help_text="Approval seconds: packed histogram.")
    pub_hist = models.BinaryField(default=b"", help_text="Brief → published seconds: packed histogram.")

    class Meta:
        indexes = [models.Index(fields=["brand", "day"], name="dayrollup_brand_day_idx")]


class DayGateRollup(DayKey):
    gate = models.ForeignKey("governance.Gate", on_delete=models.CASCADE, related_name="+")
    n = models.PositiveIntegerField()
    hist = models.BinaryField(help_text="Approval seconds at the gate: packed histogram.")

    class Meta:
        indexes = [models.Index(fields=["brand", "day"], name="daygate_brand_day_idx")]


class DayReasonRollup(DayKey):
    decision = models.CharField(max_length=20)
    reason = models.CharField(max_length=120)
    n = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["brand", "day"], name="dayreason_brand_day_idx")]


class DayFindingRollup(DayKey):
    category = models.CharField(max_length=40)
    n = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["brand", "day"], name="dayfinding_brand_day_idx")]
