"""Model versions, prompt templates, agent runs with their checkpoints, and the knowledge base."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from pgvector.django import VectorField

from governance.models import Risk


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed"
    OPEN = "open", "Open"
    HALF_OPEN = "half_open", "Half-open"


class ModelVersion(models.Model):
    class Mode(models.TextChoices):
        CHAT = "chat", "Chat"
        COMPLETION = "completion", "Completion"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SHADOW = "shadow", "Shadow"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=120, unique=True)
    provider = models.CharField(max_length=40, default="openai", help_text="Provider class, by name.")
    use_settings = models.BooleanField(
        default=False,
        help_text="Take base URL, model name, mode and key from the AIOS_LLM_* environment settings.",
    )
    base_url = models.URLField(max_length=300, blank=True)
    model = models.CharField(max_length=200, blank=True)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.COMPLETION)
    api_key_env = models.CharField(
        max_length=80, default="AIOS_LLM_API_KEY", help_text="Name of the environment variable holding the key."
    )
    parameters = models.JSONField(default=dict, blank=True, help_text='e.g. {"temperature": 0.7}')
    context_window = models.PositiveIntegerField(default=8192)
    price_per_input_token = models.DecimalField(max_digits=14, decimal_places=10, default=Decimal("0"))
    price_per_output_token = models.DecimalField(max_digits=14, decimal_places=10, default=Decimal("0"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    rollout_share = models.PositiveSmallIntegerField(default=100, help_text="Percent of briefs (0–100).")
    fallback = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    max_run_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most output tokens one run may use (empty: no limit)."
    )
    max_run_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Longest one run may take (empty: the task time limit)."
    )
    # Circuit breaker (see agents/breaker.py): closed → open after repeated failures → half-open probe.
    breaker_state = models.CharField(max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED)
    breaker_failures = models.PositiveIntegerField(default=0)
    breaker_opened_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("activate_modelversion", "Can activate, shadow, retire or roll back this model version")]

    def __str__(self) -> str:
        return self.name


class PromptTemplate(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    active_version = models.ForeignKey(
        "PromptTemplateVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("activate_prompttemplate", "Can activate or roll back versions of this template")]

    def __str__(self) -> str:
        return self.name


class PromptTemplateVersion(models.Model):
    """Immutable. `sections`: [{"heading", "instruction"}]. The section prompt is a
    `str.format_map` template over the brief's fields plus `heading`, `instruction`, `sources`."""

    template = models.ForeignKey(PromptTemplate, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    system_text = models.TextField(blank=True)
    sections = models.JSONField(default=list)
    section_prompt = models.TextField(help_text="Completion models: the whole prompt of one section.")
    chat_prompt = models.TextField(
        blank=True, help_text="Chat models: the user message of one section (empty: the section prompt)."
    )
    variables = models.JSONField(default=dict, blank=True, help_text="JSON schema of extra variables.")
    outline_checkpoint = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="template_version_unique")]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"


class AgentRun(models.Model):
    """One step of the pipeline for one draft. Claimed by a conditional status update."""

    class Kind(models.TextChoices):
        PLAN = "plan", "Plan"
        RETRIEVE = "retrieve", "Retrieve"
        WRITE = "write", "Write"
        CHECK = "check", "Check"
        REGENERATE = "regenerate", "Regenerate a section"
        SHADOW = "shadow", "Shadow write"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    draft = models.ForeignKey("editorial.Draft", on_delete=models.PROTECT, related_name="runs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    attempt_count = models.PositiveIntegerField(default=0, help_text="Times the run was claimed by a worker.")
    error_count = models.PositiveIntegerField(
        default=0, help_text="Attempts that ended in a model error (a lost worker does not count)."
    )
    claimed_by = models.CharField(max_length=120, blank=True, help_text="host:pid of the process that claimed it.")
    idempotency_key = models.CharField(max_length=200, unique=True)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT)
    prompt_version = models.ForeignKey(PromptTemplateVersion, null=True, blank=True, on_delete=models.PROTECT)
    model_name = models.CharField(max_length=200, blank=True, help_text="The model actually called.")
    fallback_from = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The version this run fell back from (its breaker was open).",
    )
    input = models.JSONField(default=dict, blank=True, help_text="Step input: instruction, section, base revision.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prompt_hash = models.CharField(max_length=64, blank=True)
    sources = models.JSONField(default=list, blank=True)
    output = models.JSONField(default=dict, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    reserved_cost = models.DecimalField(
        max_digits=14, decimal_places=8, default=Decimal("0"), help_text="Budget held for the call in flight."
    )
    cache_hits = models.PositiveIntegerField(default=0)
    latency_ms = models.FloatField(null=True, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["draft", "kind", "status"]),
            # Runs in flight, and runs finished lately, counted at every metrics scrape (aios/metrics.py).
            models.Index(fields=["status", "finished_at"], name="run_status_finished_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} run #{self.pk}"


class RunSection(models.Model):
    """Checkpoint of one written section: the text streamed so far, and whether it finished."""

    run = models.ForeignKey(AgentRun, on_delete=models.CASCADE, related_name="sections")
    index = models.PositiveSmallIntegerField()
    heading = models.CharField(max_length=200)
    text = models.TextField(blank=True)
    done = models.BooleanField(default=False)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    prompt_hash = models.CharField(max_length=64, blank=True)
    cache_hit = models.BooleanField(default=False)
    # Quality (agents/pipeline/acceptance.py): how the accepted text ended, and every try with its verdict.
    finish_reason = models.CharField(max_length=20, blank=True, help_text="stop, length (trimmed), …")
    trimmed = models.BooleanField(default=False, help_text="Cut at max_tokens and trimmed to its last sentence.")
    tries = models.JSONField(default=list, blank=True, help_text="Each try: finish reason, problems, text.")
    problems = models.JSONField(default=list, blank=True, help_text="Why the last try was not usable.")

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="run_section_unique")]


class KnowledgeDocument(models.Model):
    brand = models.ForeignKey("governance.Brand", on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=200)
    body = models.TextField()
    source_format = models.CharField(max_length=12, default="text")
    embedding_model = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class KnowledgeChunk(models.Model):
    document = models.ForeignKey(KnowledgeDocument, on_delete=models.CASCADE, related_name="chunks")
    brand = models.ForeignKey("governance.Brand", on_delete=models.CASCADE, related_name="+")
    index = models.PositiveIntegerField()
    text = models.TextField()
    # Untyped so that an embeddings endpoint may have its own dimension. Each dimension in use gets a
    # partial HNSW index over `embedding::vector(N)` (migration 0004 makes the 384 one); queries
    # filter on `dimensions` and cast the same way so the planner uses it.
    embedding = VectorField()
    dimensions = models.PositiveSmallIntegerField(default=384)
    flagged = models.BooleanField(default=False, help_text="Instruction-like text (possible prompt injection).")

    class Meta:
        ordering = ["document", "index"]
        constraints = [models.UniqueConstraint(fields=["document", "index"], name="chunk_index_unique")]
        indexes = [models.Index(fields=["brand", "dimensions"], name="chunk_brand_dim_idx")]


class Budget(models.Model):
    """Spending caps of one brand. Empty caps mean no limit."""

    brand = models.OneToOneField("governance.Brand", on_delete=models.CASCADE, related_name="budget")
    daily_cap = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    monthly_cap = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    run_token_cap = models.PositiveIntegerField(null=True, blank=True, help_text="Most tokens (in + out) per run.")
    on_exceed = models.CharField(
        max_length=6, choices=[("wait", "Wait for budget"), ("fail", "Fail the run")], default="fail"
    )

    def __str__(self) -> str:
        return f"Budget of {self.brand}"


class SpendDay(models.Model):
    """Money reserved for calls in flight and spent, per brand and day. Locked row = serialised caps."""

    brand = models.ForeignKey("governance.Brand", on_delete=models.CASCADE, related_name="spend_days")
    day = models.DateField()
    reserved = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))
    spent = models.DecimalField(max_digits=14, decimal_places=8, default=Decimal("0"))

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["brand", "day"], name="spend_day_unique")]


class PromptCacheEntry(models.Model):
    """Exact-match cache of deterministic (temperature 0) completions."""

    key = models.CharField(max_length=64, unique=True, help_text="sha256 of model version, prompt and parameters.")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    hits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_hit_at = models.DateTimeField(null=True, blank=True)


class TriageCategory(models.Model):
    """A content category the triage classifier can predict, and the risk it routes to."""

    name = models.CharField(max_length=80, unique=True)
    risk = models.CharField(max_length=8, choices=Risk.choices, default=Risk.LOW)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "triage categories"

    def __str__(self) -> str:
        return self.name


class TriageExample(models.Model):
    """A labelled example for the triage classifier (nearest neighbours on the local embeddings)."""

    text = models.TextField()
    tone = models.CharField(max_length=80)
    category = models.ForeignKey(TriageCategory, on_delete=models.CASCADE, related_name="examples")
    embedding = VectorField(dimensions=384, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["category", "id"]

    def __str__(self) -> str:
        return f"{self.category} · {self.tone}"



class InjectionExample(models.Model):
    """A labelled sentence for the source-injection scorer (`agents/injection.py`): is it addressed to
    the assistant (an instruction smuggled into a source) or ordinary source text?"""

    text = models.TextField()
    is_injection = models.BooleanField(
        "addressed to the assistant", help_text="Ticked: an instruction to the model. Unticked: ordinary source text "
        "that looks a little like one (a look-alike keeps the scorer quiet on such text).")
    note = models.CharField(max_length=200, blank=True)
    embedding = VectorField(dimensions=384, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_injection", "id"]

    def __str__(self) -> str:
        return ("injection · " if self.is_injection else "ordinary · ") + self.text[:60]
