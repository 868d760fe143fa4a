"""A batch of briefs filed from one uploaded file (CSV or JSON), and its rows."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from governance.models import Channel, Risk


class Batch(models.Model):
    class Status(models.TextChoices):
        READY = "ready", "Ready to start"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        CANCELLED = "cancelled", "Cancelled"
        FINISHED = "finished", "Finished"

    brand = models.ForeignKey("governance.Brand", on_delete=models.PROTECT, related_name="batches")
    template = models.ForeignKey("agents.PromptTemplate", on_delete=models.PROTECT, related_name="batches")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    risk = models.CharField(max_length=8, choices=Risk.choices, default=Risk.LOW)
    language = models.CharField(max_length=8, choices=settings.AIOS_CONTENT_LANGUAGES, default="en")
    mapping = models.JSONField(default=dict, help_text="Target (brief field or template variable) → column.")
    defaults = models.JSONField(default=dict, blank=True, help_text="Brief fields no column gives (audience, tone).")
    source_name = models.CharField(max_length=255, blank=True, help_text="The uploaded file's name.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.READY, db_index=True)
    total = models.PositiveIntegerField(default=0)
    estimate = models.JSONField(default=dict, blank=True)
    start_at = models.DateTimeField(null=True, blank=True, db_index=True, help_text="Scheduled start (off-peak).")
    policy_publish_at = models.DateTimeField(
        null=True, blank=True, help_text="When its drafts approved by policy are published (empty: as soon as they "
                                         "are approved; a time already passed: at once).")
    # The running feeder chain's token: starting or resuming sets a new one, so an older chain stops.
    feeder = models.CharField(max_length=32, blank=True)
    fed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.name


class BatchRow(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        FILED = "filed", "Filed"
        CANCELLED = "cancelled", "Cancelled"
        REFUSED = "refused", "Refused when filed"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField(help_text="Row number in the file (1 = first data row).")
    values = models.JSONField(help_text="The brief's fields and variables, validated at upload.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True, help_text="Why filing the brief was refused (e.g. the workflow changed).")
    draft = models.OneToOneField("editorial.Draft", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="batch_row")

    class Meta:
        ordering = ["batch", "number"]
        constraints = [models.UniqueConstraint(fields=["batch", "number"], name="batch_row_unique")]
        indexes = [models.Index(fields=["batch", "status", "number"])]

    def __str__(self) -> str:
        return f"{self.batch} row {self.number}"
