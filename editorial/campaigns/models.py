"""Audience segments (versioned like rule sets), campaigns, their variants, and experiments between
variants with the outcomes a CMS reports."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.models import Channel


class Segment(models.Model):
    """An audience of a brand. Its wording lives in immutable versions; a variant records the one it
    was written for."""

    brand = models.ForeignKey("governance.Brand", on_delete=models.PROTECT, related_name="segments")
    name = models.CharField(max_length=120)
    active_version = models.ForeignKey(
        "SegmentVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="segment_name_unique_per_brand")]

    def __str__(self) -> str:
        return self.name


class SegmentVersion(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    traits = models.JSONField(default=list, blank=True, help_text="Short phrases: what these readers are like.")
    language = models.CharField(max_length=8, choices=settings.AIOS_CONTENT_LANGUAGES, default="en")
    channels = models.JSONField(default=list, blank=True, help_text="Preferred channels (empty: any).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["segment", "-number"]
        constraints = [models.UniqueConstraint(fields=["segment", "number"], name="segment_version_unique")]

    def __str__(self) -> str:
        return f"{self.segment} v{self.number}"


class Campaign(models.Model):
    class Mode(models.TextChoices):
        AFTER_APPROVAL = "after_approval", "From the approved master"
        PARALLEL = "parallel", "In parallel with the master"

    brand = models.ForeignKey("governance.Brand", on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(max_length=200)
    master = models.OneToOneField("editorial.Draft", on_delete=models.PROTECT, related_name="campaign")
    segments = models.ManyToManyField(Segment, related_name="campaigns")
    channels = models.JSONField(default=list)
    mode = models.CharField(max_length=20, choices=Mode.choices, default=Mode.AFTER_APPROVAL)
    arms = models.PositiveSmallIntegerField(
        default=1, help_text="Variants written per segment and channel (two or more for an A/B test)."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    variants_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


ARM_LABELS = "ABCD"


class Variant(models.Model):
    """A draft written for one segment on one channel from the campaign's master."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="variants")
    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="variants")
    segment_version = models.ForeignKey(SegmentVersion, on_delete=models.PROTECT, related_name="variants")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    arm = models.CharField(max_length=1, default="A")
    master = models.ForeignKey("editorial.Draft", on_delete=models.PROTECT, related_name="variants")
    master_revision = models.ForeignKey(
        "editorial.Revision", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The master's approved text the variant was written from (empty when written in parallel).",
    )
    draft = models.OneToOneField("editorial.Draft", on_delete=models.PROTECT, related_name="variant")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["segment__name", "channel", "arm"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "segment", "channel", "arm"], name="variant_cell_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.segment.name} · {self.channel} · {self.arm}"


class InheritedGate(models.Model):
    """A review gate that a variant may take from its master's sign-off, when the variant's changed
    sentences raise no finding the master did not have."""

    gate = models.OneToOneField("governance.Gate", on_delete=models.CASCADE, related_name="inherited_by_variants")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.gate} (inherit from master)"


class Experiment(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PROMOTED = "promoted", "Winner promoted"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="experiments")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    winner = models.ForeignKey(Variant, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class ExperimentArm(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="experiment_arms")
    share = models.PositiveSmallIntegerField(help_text="Percent of the audience shown this variant.")

    class Meta:
        ordering = ["variant__arm"]
        constraints = [models.UniqueConstraint(fields=["experiment", "variant"], name="experiment_arm_unique")]


class OutcomeReport(models.Model):
    """One report from the CMS: counted once, whatever how often it is sent (unique report id)."""

    report_id = models.CharField(max_length=200, unique=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, related_name="reports")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="outcome_reports")
    connector = models.ForeignKey("governance.Connector", on_delete=models.PROTECT, related_name="+")
    impressions = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
