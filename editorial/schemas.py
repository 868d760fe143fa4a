from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import ConfigDict


class BriefIn(Schema):
    """`createNarrative`: what a requester asks for."""

    model_config = ConfigDict(extra="forbid")

    brand: str = Field(..., description="Brand slug", max_length=60)
    title: str = Field(..., min_length=1, max_length=200)
    goal: str = Field(..., min_length=1, max_length=4000)
    audience: str = Field(..., min_length=1, max_length=200)
    channel: Literal["blog", "newsletter", "social", "product", "press"]
    tone: str = Field("clear and friendly", max_length=120)
    risk: Literal["low", "medium", "high"] = "low"
    template: str = Field(..., description="Prompt template slug", max_length=60)
    sources: list[int] = Field(default_factory=list, description="Knowledge document ids of the brand")


class RevisionOut(Schema):
    id: int
    number: int
    parent_id: int | None
    author: str
    content: str
    content_hash: str
    provenance: dict
    created_at: datetime


class RunOut(Schema):
    id: int
    kind: str
    status: str
    attempt_count: int
    error: str
    tokens_in: int
    tokens_out: int
    latency_ms: float | None


class GateOut(Schema):
    gate: str
    status: str
    reason: str
    hard: bool


class FindingOut(Schema):
    category: str
    severity: str
    start: int | None
    end: int | None
    text: str
    message: str


class DraftOut(Schema):
    id: int
    title: str
    status: str
    status_reason: str
    brand: str
    risk: str
    channel: str
    current_revision: RevisionOut | None
    revisions: list[int]
    findings: list[FindingOut]
    gates: list[GateOut]
    runs: list[RunOut]


class DiffOut(Schema):
    a: int
    b: int
    words_added: int
    words_removed: int
    ops: list[tuple[str, str]]


class ErrorOut(Schema):
    detail: str | dict
