"""Brands, workflows and gates, sign-offs, policies and findings, the audit log, CMS connectors."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Risk(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


RISK_ORDER = {Risk.LOW: 0, Risk.MEDIUM: 1, Risk.HIGH: 2}


class Channel(models.TextChoices):
    BLOG = "blog", "Blog"
    NEWSLETTER = "newsletter", "Newsletter"
    SOCIAL = "social", "Social"
    PRODUCT = "product", "Product page"
    PRESS = "press", "Press release"


class Brand(models.Model):
    """A workspace: users act only on drafts of brands they were given access to."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    phone_regions = models.JSONField(
        default=list, blank=True,
        help_text="Where the brand works, as two-letter country codes (e.g. GB, DE): phone numbers in these "
                  "countries' national formats are recognised, besides the common regions.")
    policy_approvals = models.BooleanField(
        default=True, help_text="Workflows may approve low-risk items by policy for this brand. Off: every item "
                                "needs a person's sign-off, whatever its workflow says.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("work_on_brand", "Can see and work on the drafts of this brand"),
            # Held for every brand through a role group, or for one brand (django-guardian) in the admin.
            ("export_corrections", "Can export reviewer corrections (agent text beside approved text)"),
        ]

    def __str__(self) -> str:
        return self.name


class Workflow(models.Model):
    """Ordered stages of gates; chosen for a brief by brand and channel (most specific wins)."""

    name = models.CharField(max_length=120)
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.CASCADE, related_name="workflows")
    channels = models.JSONField(default=list, blank=True, help_text="Empty = every channel.")
    is_active = models.BooleanField(default=True)
    policy_approval = models.BooleanField(
        default=False, help_text="Approve by policy: a low-risk draft with no finding above info and a clean "
                                 "quality check is signed at every gate without a person, then published.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="stages")
    order = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["workflow", "order"]
        constraints = [models.UniqueConstraint(fields=["workflow", "order"], name="stage_order_unique")]

    def __str__(self) -> str:
        return f"{self.workflow}: {self.order}. {self.name}"


class Gate(models.Model):
    """One sign-off a draft may need. Gates in the same stage run in parallel."""

    class Kind(models.TextChoices):
        HARD = "hard", "Hard (blocks publishing)"
        SOFT = "soft", "Soft (advisory)"

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="gates")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    group = models.ForeignKey("auth.Group", on_delete=models.PROTECT, related_name="gates")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.HARD)
    min_risk = models.CharField(max_length=8, choices=Risk.choices, default=Risk.LOW)
    channels = models.JSONField(default=list, blank=True, help_text="Empty = every channel.")
    finding_categories = models.JSONField(
        default=list, blank=True, help_text="Also applies when findings of these categories are present."
    )
    reapprove_on_change = models.BooleanField(default=True)

    class Meta:
        ordering = ["stage__order", "id"]

    def __str__(self) -> str:
        return self.name


class SignOff(models.Model):
    """A decision at a gate on one revision. History: never edited or deleted."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        REQUEST_CHANGES = "request_changes", "Changes requested"
        REJECT = "reject", "Rejected"

    draft = models.ForeignKey("editorial.Draft", on_delete=models.PROTECT, related_name="signoffs")
    revision = models.ForeignKey("editorial.Revision", on_delete=models.PROTECT, related_name="signoffs")
    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="signoffs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    external_recipient = models.CharField(max_length=200, blank=True)
    policy = models.CharField(max_length=200, blank=True, help_text="Signed by this policy, not by a person.")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            # A double click or a race cannot sign the same gate twice for one revision.
            models.UniqueConstraint(
                fields=["gate", "revision"],
                condition=Q(decision="approve"),
                name="signoff_one_approval_per_gate_revision",
            ),
        ]


class RuleSet(models.Model):
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.CASCADE, related_name="rule_sets")
    name = models.CharField(max_length=120)
    active_version = models.ForeignKey(
        "RuleSetVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return self.name


class RuleSetVersion(models.Model):
    """Immutable. `banned_terms`: [{"term", "replacement"}]; `disclaimers`: {channel: text}."""

    rule_set = models.ForeignKey(RuleSet, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    banned_terms = models.JSONField(default=list, blank=True)
    disclaimers = models.JSONField(default=dict, blank=True)
    rules = models.JSONField(default=dict, blank=True, help_text="Further detectors (later issues).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule_set", "number"], name="ruleset_version_unique")]

    def __str__(self) -> str:
        return f"{self.rule_set} v{self.number}"


class Finding(models.Model):
    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        BLOCKING = "blocking", "Blocking"

    revision = models.ForeignKey("editorial.Revision", on_delete=models.PROTECT, related_name="findings")
    run = models.ForeignKey("agents.AgentRun", null=True, blank=True, on_delete=models.PROTECT)
    rule_set_version = models.ForeignKey(RuleSetVersion, null=True, blank=True, on_delete=models.PROTECT)
    category = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    start = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(null=True, blank=True)
    text = models.TextField(blank=True)
    message = models.TextField()
    suggestion = models.TextField(blank=True)
    # Weaker findings on the same span, merged into this one (governance.detectors.merge):
    # [{"category", "severity", "message", "start", "end", "text", "suggestion"}].
    details = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["start", "id"]
        permissions = [("override_finding", "Can override a blocking policy finding with a justification")]

    @property
    def is_blocking(self) -> bool:
        return self.severity == self.Severity.BLOCKING

    @property
    def category_label(self) -> str:
        return self.category.replace("_", " ").capitalize()


class FindingOverride(models.Model):
    """A person's written decision that a blocking finding may stand. History: never edited."""

    finding = models.OneToOneField(Finding, on_delete=models.PROTECT, related_name="override")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    justification = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)


class ReviewLink(models.Model):
    """An expiring, single-use link for an outside reviewer to decide one gate of one draft.

    Only the SHA-256 of the token is stored; the token itself is shown once to its creator."""

    draft = models.ForeignKey("editorial.Draft", on_delete=models.PROTECT, related_name="review_links")
    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="review_links")
    revision = models.ForeignKey("editorial.Revision", on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    recipient = models.CharField(max_length=200, help_text="Who receives it, e.g. “J. Doe, external counsel”.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    signoff = models.OneToOneField(SignOff, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-created_at"]


class AuditEvent(models.Model):
    """Append-only: written by `governance.audit.audit_log` in the transaction of the change."""

    # Set before hashing, so not auto_now_add (which would overwrite it on save).
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=80, db_index=True)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_run = models.ForeignKey("agents.AgentRun", null=True, blank=True, on_delete=models.PROTECT)
    actor_label = models.CharField(max_length=200, blank=True)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class Connector(models.Model):
    """A CMS endpoint that receives signed webhooks (Standard Webhooks)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="connectors")
    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200, help_text="whsec_… (base64 key, Standard Webhooks)")
    previous_secret = models.CharField(
        max_length=200, blank=True,
        help_text="During a rotation the old secret still signs too (two signatures), until it is cleared.",
    )
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    event_types = models.JSONField(default=list, blank=True, help_text="Empty = every event.")
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One event for one connector; `webhook_id` stays the same across retries."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        RETRYING = "retrying", "Retrying"
        DEAD = "dead", "Dead letter"

    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="deliveries")
    draft = models.ForeignKey("editorial.Draft", on_delete=models.PROTECT, related_name="deliveries")
    revision = models.ForeignKey("editorial.Revision", on_delete=models.PROTECT, related_name="deliveries")
    event_type = models.CharField(max_length=40)
    webhook_id = models.CharField(max_length=64, unique=True)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    remote_id = models.CharField(max_length=200, blank=True)
    remote_url = models.URLField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        # Deliveries waiting (pending, retrying, dead) and delivered lately, counted at every metrics scrape.
        indexes = [models.Index(fields=["status", "delivered_at"], name="delivery_status_delivered_idx")]


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique")]


class InboundCallback(models.Model):
    """A CMS's signed report about a delivery (confirmed or failed). Its webhook-id is used once."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        FAILED = "failed", "Failed"

    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, related_name="callbacks")
    webhook_id = models.CharField(max_length=100)
    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.PROTECT, related_name="callbacks")
    status = models.CharField(max_length=12, choices=Status.choices)
    detail = models.TextField(blank=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["connector", "webhook_id"], name="callback_id_once")]


class ApiToken(models.Model):
    """A personal or service API token. Only a SHA-256 of the secret part is stored."""

    class Kind(models.TextChoices):
        PERSONAL = "personal", "Personal"
        SERVICE = "service", "Service"

    SCOPES = ["read", "write", "sign-off", "publish", "admin"]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSONAL)
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part, shown in lists and logs.")
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    rate_limit_per_minute = models.PositiveIntegerField(default=120)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotencyRecord(models.Model):
    """The stored answer to a POST made with an Idempotency-Key, kept 24 h."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done"

    owner = models.CharField(max_length=80, help_text="token:<id> or user:<id>")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    body_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_once")]
