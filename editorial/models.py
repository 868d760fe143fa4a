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
    risk = models.CharField(max_length=8, choices=Risk.choices, default=Risk.LOW)
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

    @property
    def is_generating(self) -> bool:
        return self.status == self.Status.GENERATING


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
