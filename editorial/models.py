"""Briefs, drafts and their immutable revisions."""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q

from governance.models import Channel, Risk


class Brief(models.Model):
    brand = models.ForeignKey("governance.Brand", on_delete=models.PROTECT, related_name="briefs")
    title = models.CharField(max_length=200)
    goal = models.TextField()
    audience = models.CharField(max_length=200)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    tone = models.CharField(max_length=120)
    language = models.CharField(
        max_length=8, choices=settings.AIOS_CONTENT_LANGUAGES, default="en",
        help_text="The language the pieces are written in (each section is checked for it).",
    )
    risk = models.CharField(max_length=8, choices=Risk.choices, default=Risk.LOW)
    triage = models.JSONField(default=dict, blank=True, help_text="Classifier's tone, category and suggested risk.")
    variables = models.JSONField(
        default=dict, blank=True, help_text="Values of the template's variables (e.g. a bulk row's SKU and price)."
    )
    template = models.ForeignKey("agents.PromptTemplate", on_delete=models.PROTECT, related_name="briefs")
    sources = models.ManyToManyField("agents.KnowledgeDocument", blank=True, related_name="briefs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="briefs")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class Draft(models.Model):
    class Status(models.TextChoices):
        GENERATING = "generating", "Generating"
        OUTLINE_REVIEW = "outline_review", "Outline to approve"
        FAILED = "failed", "Generation failed"
        NEEDS_HUMAN = "needs_human", "Needs a human"
        IN_REVIEW = "in_review", "In review"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        APPROVED = "approved", "Approved"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"
        RETRACTED = "retracted", "Retracted"

    brief = models.ForeignKey(Brief, on_delete=models.PROTECT, related_name="drafts")
    brand = models.ForeignKey("governance.Brand", on_delete=models.PROTECT, related_name="drafts")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.GENERATING, db_index=True)
    workflow = models.ForeignKey("governance.Workflow", null=True, blank=True, on_delete=models.PROTECT)
    model_version = models.ForeignKey("agents.ModelVersion", null=True, blank=True, on_delete=models.PROTECT)
    prompt_version = models.ForeignKey(
        "agents.PromptTemplateVersion", null=True, blank=True, on_delete=models.PROTECT
    )
    current_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_drafts"
    )
    status_reason = models.TextField(blank=True, help_text="Why generation failed, or why it was sent back.")
    run_queue = models.CharField(
        max_length=20, default="default",
        help_text="The Celery queue its agent runs go to: bulk drafts wait behind interactive ones.",
    )
    publish_at = models.DateTimeField(null=True, blank=True, db_index=True, help_text="Scheduled publication time.")
    publish_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["brand", "status", "-created_at"]),
            # The desk queue pages by (status_changed_at, id), both ways (keyset pagination).
            models.Index(fields=["status_changed_at", "id"], name="draft_waiting_idx"),
            # "My queue" walks only items not yet out of the door (most drafts, in time, are published).
            models.Index(
                fields=["status_changed_at", "id"], name="draft_open_waiting_idx",
                condition=~Q(status__in=["published", "retracted"]),
            ),
            models.Index(fields=["status", "status_changed_at", "id"], name="draft_status_waiting_idx"),
            models.Index(fields=["assignee", "status_changed_at", "id"], name="draft_assignee_waiting_idx"),
            # Full-text search of titles; the text itself is searched on Revision (see its index).
            GinIndex(SearchVector("title", config="english"), name="draft_title_search"),
        ]

    def __str__(self) -> str:
        return self.title


class Revision(models.Model):
    """Immutable content. A change is a new revision whose parent is the one it was based on."""

    draft = models.ForeignKey(Draft, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    content = models.TextField()
    content_hash = models.CharField(max_length=64)
    author_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    author_run = models.ForeignKey("agents.AgentRun", null=True, blank=True, on_delete=models.PROTECT)
    provenance = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Full-text search of the text, for the queue. A vector on Draft would have to be rewritten by every
    # service that makes a revision current; a revision never changes, so PostgreSQL computes this one
    # as the row is written. Stored rather than an expression index so that checking one draft's
    # current revision is cheap: with a common word the queue walks drafts in order and tests each.
    search = models.GeneratedField(
        expression=SearchVector("content", config="english"), output_field=SearchVectorField(), db_persist=True
    )

    class Meta:
        ordering = ["draft", "number"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "number"], name="revision_number_unique"),
            models.CheckConstraint(
                condition=Q(author_user__isnull=False, author_run__isnull=True)
                | Q(author_user__isnull=True, author_run__isnull=False),
                name="revision_has_one_author",
            ),
        ]
        indexes = [GinIndex(fields=["search"], name="revision_content_search")]

    def __str__(self) -> str:
        return f"{self.draft} r{self.number}"

    def save(self, *args, **kwargs) -> None:
        # Immutability is an invariant of the row, not business logic: refuse any update.
        if self.pk is not None:
            raise ValueError("Revisions are immutable; create a new revision instead.")
        super().save(*args, **kwargs)

    @property
    def author_label(self) -> str:
        if self.author_user_id:
            return self.author_user.get_full_name() or self.author_user.username
        return f"agent · {self.author_run}"


class Proposal(models.Model):
    """A regenerated section waiting for an editor: its revision is not current until accepted."""

    class Status(models.TextChoices):
        RUNNING = "running", "Being written"
        PENDING = "pending", "Waiting for a decision"
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"
        FAILED = "failed", "Failed"

    draft = models.ForeignKey(Draft, on_delete=models.PROTECT, related_name="proposals")
    base_revision = models.ForeignKey(Revision, on_delete=models.PROTECT, related_name="+")
    revision = models.ForeignKey(Revision, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    run = models.OneToOneField("agents.AgentRun", on_delete=models.PROTECT, related_name="proposal")
    section_index = models.PositiveSmallIntegerField()
    section_heading = models.CharField(max_length=200)
    instruction = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class CommentThread(models.Model):
    """A discussion anchored to a revision: its whole text, a section, or a quoted range."""

    draft = models.ForeignKey(Draft, on_delete=models.PROTECT, related_name="threads")
    revision = models.ForeignKey(Revision, on_delete=models.PROTECT, related_name="threads")
    section = models.CharField(max_length=200, blank=True, help_text="Heading of the section, if anchored to one.")
    quote = models.TextField(blank=True, help_text="The quoted text, if anchored to a range.")
    quote_start = models.PositiveIntegerField(null=True, blank=True, help_text="Offset of the quote in the content.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["draft", "resolved_at"])]

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


class Comment(models.Model):
    thread = models.ForeignKey(CommentThread, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]


class NotificationKind(models.TextChoices):
    ASSIGNMENT = "assignment", "Assigned to me"
    SENT_BACK = "sent_back", "Sent back for changes"
    APPROVAL = "approval", "Approved"
    MENTION = "mention", "Mentioned in a comment"
    GENERATION_FAILED = "generation_failed", "Generation failed"
    INSIGHTS_ALERT = "insights_alert", "Insights alert"
    SOURCE_CHANGED = "source_changed", "A source of my draft changed"
    PUBLISH_FAILED = "publish_failed", "Publishing failed"


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    draft = models.ForeignKey(Draft, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"], name="notification_inbox_idx")]


class NotificationSetting(models.Model):
    """A user's switch for one kind; no row means both channels on."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_setting_unique")]


class Attribution(models.Model):
    """Who wrote a revision's words (editorial/attribution.py), stored when a draft is approved or
    published. Derived from immutable revisions, so it never changes either."""

    revision = models.OneToOneField(Revision, on_delete=models.PROTECT, related_name="attribution")
    words_agent = models.PositiveIntegerField(help_text="Agent text a person kept.")
    words_edited = models.PositiveIntegerField(help_text="Agent text rewritten by a person.")
    words_human = models.PositiveIntegerField(help_text="Text written by a person.")
    ai_share = models.DecimalField(max_digits=5, decimal_places=4, help_text="Agent words / all words.")
    sections = models.JSONField(default=list, help_text='[{"index", "heading", "words": {label: n}}]')
    spans = models.JSONField(default=list, help_text="[[start, end, label]] over the revision's text.")
    computed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"attribution of {self.revision}"


class SourceChange(models.Model):
    """A knowledge document that grounded sentences of a draft (agents/grounding.py) was edited, expired
    or deleted. The draft is flagged "sources changed" until it is approved again."""

    class Kind(models.TextChoices):
        EDITED = "edited", "Edited"
        EXPIRED = "expired", "Expired"
        DELETED = "deleted", "Deleted"

    draft = models.ForeignKey(Draft, on_delete=models.PROTECT, related_name="source_changes")
    document = models.ForeignKey(
        "agents.KnowledgeDocument", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    document_title = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    revision = models.ForeignKey(Revision, on_delete=models.PROTECT, related_name="+",
                                 help_text="The revision whose sentences the document supported.")
    sentences = models.JSONField(default=list, help_text='[{"start", "end", "text", "snippet", "score"}]')
    published = models.BooleanField(default=False, help_text="The published piece rests on it.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["draft"], condition=Q(cleared_at__isnull=True), name="source_change_open_idx")]

    def __str__(self) -> str:
        return f"{self.document_title} {self.kind} ({self.draft})"
