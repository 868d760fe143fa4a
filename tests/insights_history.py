"""A small seeded history whose insights figures are known by hand (see test_insights_metrics.py).

Three drafts of Northwind, filed on Monday 2 and Tuesday 3 November 2026:

1. published after an edit: agent text 12 words (heading included), one changed (edit share 1/12); in review 60 s after
   the brief, approved 3,600 s later (Editorial at 1,800 s, Brand at 3,600 s), published 600 s after that;
   one section rewrite; a banned-term warning on the published text; grounding: 2 factual sentences, 1
   unsupported. Runs cost $0.30 (write: 200 tokens in 10 s, first token at 400 ms).
2. approved unchanged, after one send-back ("Too salesy."): in review at 120 s, sent back at 1,000 s,
   back at 2,000 s, approved at 3,000 s (Editorial); a blocking claims finding, overridden. $0.20.
3. rejected ("Off brand"): needed a human at 100 s, generating again at 400 s, in review at 500 s
   (recovered in 400 s), rejected at 900 s; one failed run. $0.10. Written by a second model version.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from agents.models import AgentRun, ModelVersion
from editorial.insights.models import StatusChange
from editorial.models import Brief, Draft, Revision
from governance.models import Finding, FindingOverride, SignOff
from tests.factories import World

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AGENT_TEXT = "## Part 1\n\none two three four five six seven eight nine ten"
S = Draft.Status
_audit_ids = iter(range(10_000_000, 20_000_000))


@dataclass
class History:
    drafts: list[Draft]
    other_model: ModelVersion


def _draft(world: World, *, title: str, filed: datetime, status: str, model: ModelVersion) -> Draft:
    brief = Brief.objects.create(brand=world.brand, title=title, goal="g", audience="a", channel="blog", tone="t",
                                 template=world.template, requested_by=world.requester)
    Brief.objects.filter(pk=brief.pk).update(created_at=filed)
    return Draft.objects.create(brief=brief, brand=world.brand, title=title, status=status, model_version=model,
                                prompt_version=world.template.active_version)


def _run(draft: Draft, kind: str, *, cost: str, status: str = AgentRun.Status.SUCCEEDED, **kw) -> AgentRun:
    return AgentRun.objects.create(draft=draft, kind=kind, status=status, cost=Decimal(cost),
                                   idempotency_key=f"hist:{draft.pk}:{kind}:{AgentRun.objects.count()}", **kw)


def _revision(draft: Draft, number: int, content: str, *, run=None, user=None, provenance=None) -> Revision:
    return Revision.objects.create(draft=draft, number=number, content=content, content_hash=str(number),
                                   author_run=run, author_user=user, provenance=provenance or {})


def _moves(draft: Draft, start: datetime, *steps: tuple[int, str, str]) -> None:
    StatusChange.objects.bulk_create([
        StatusChange(draft=draft, audit_id=next(_audit_ids), at=start + timedelta(seconds=s), old=old, new=new)
        for s, old, new in steps
    ])


def _signoff(world: World, draft: Draft, gate: str, decision: str, at: datetime, comment: str = "") -> None:
    signoff = SignOff.objects.create(draft=draft, revision=draft.current_revision, gate=world.gates[gate],
                                     user=world.editor, decision=decision, comment=comment)
    SignOff.objects.filter(pk=signoff.pk).update(created_at=at)


def seed_history(world: World) -> History:
    other = ModelVersion.objects.create(name="Challenger", base_url="http://127.0.0.1:9/v1", model="m")
    # 1. published after an edit
    d1 = _draft(world, title="Autumn roast", filed=T0, status=S.PUBLISHED, model=world.model_version)
    write = _run(d1, AgentRun.Kind.WRITE, cost="0.30", ttft_ms=400, tokens_out=200, latency_ms=10_000)
    _run(d1, AgentRun.Kind.REGENERATE, cost="0")
    r1 = _revision(d1, 1, AGENT_TEXT, run=write)
    r2 = _revision(d1, 2, AGENT_TEXT.replace("five", "FIVE!"), user=world.editor, provenance={"sentences": [
        {"factual": True, "supported": False}, {"factual": True, "supported": True}, {"factual": False}]})
    Draft.objects.filter(pk=d1.pk).update(current_revision=r2, published_revision=r2)
    d1.current_revision = r2
    _moves(d1, T0, (60, S.GENERATING, S.IN_REVIEW), (3660, S.IN_REVIEW, S.APPROVED),
           (4260, S.APPROVED, S.PUBLISHED))
    _signoff(world, d1, "editorial", "approve", T0 + timedelta(seconds=60 + 1800))
    _signoff(world, d1, "brand", "approve", T0 + timedelta(seconds=60 + 3600))
    Finding.objects.create(revision=r2, category="banned_term", severity="warning", message="m")
    assert r1.pk
    # 2. approved unchanged after a send-back
    t1 = T0 + timedelta(days=1)
    d2 = _draft(world, title="Winter blend", filed=t1, status=S.APPROVED, model=world.model_version)
    write = _run(d2, AgentRun.Kind.WRITE, cost="0.20", ttft_ms=600, tokens_out=100, latency_ms=5_000)
    r = _revision(d2, 1, AGENT_TEXT, run=write)
    Draft.objects.filter(pk=d2.pk).update(current_revision=r)
    d2.current_revision = r
    _moves(d2, t1, (120, S.GENERATING, S.IN_REVIEW), (1000, S.IN_REVIEW, S.CHANGES_REQUESTED),
           (2000, S.CHANGES_REQUESTED, S.IN_REVIEW), (3000, S.IN_REVIEW, S.APPROVED))
    _signoff(world, d2, "editorial", "request_changes", t1 + timedelta(seconds=1000), "Too salesy.")
    _signoff(world, d2, "editorial", "approve", t1 + timedelta(seconds=3000))
    blocking = Finding.objects.create(revision=r, category="claims", severity="blocking", message="m")
    FindingOverride.objects.create(finding=blocking, user=world.editor, justification="Sourced.")
    # 3. rejected, after needing a human
    d3 = _draft(world, title="Spring notes", filed=t1, status=S.REJECTED, model=other)
    _run(d3, AgentRun.Kind.WRITE, cost="0", status=AgentRun.Status.FAILED)
    write = _run(d3, AgentRun.Kind.WRITE, cost="0.10", ttft_ms=500, tokens_out=50, latency_ms=5_000)
    r = _revision(d3, 1, AGENT_TEXT, run=write)
    Draft.objects.filter(pk=d3.pk).update(current_revision=r, status_reason="Off brand")
    d3.current_revision = r
    _moves(d3, t1, (100, S.GENERATING, S.NEEDS_HUMAN), (400, S.NEEDS_HUMAN, S.GENERATING),
           (500, S.GENERATING, S.IN_REVIEW), (900, S.IN_REVIEW, S.REJECTED))
    _signoff(world, d3, "editorial", "reject", t1 + timedelta(seconds=900), "Off brand")
    return History(drafts=[d1, d2, d3], other_model=other)


REASONS = ["Too salesy.", "Off brand", "Facts not supported by the sources", "Too long for the channel"]


def seed_busy_month(world: World, *, drafts: int = 120, seed: int = 7) -> ModelVersion:
    """`drafts` drafts over the last four weeks, half by the world's model version and half by a
    "Challenger" that is faster, cheaper and edited less: a page worth looking at, and a comparison
    with clear differences. Returns the challenger."""
    import random

    from django.utils import timezone

    rng = random.Random(seed)
    challenger = ModelVersion.objects.create(name="Challenger", base_url="http://127.0.0.1:9/v1", model="m")
    now = timezone.now()
    for i in range(drafts):
        new = i % 2 == 1
        model = challenger if new else world.model_version
        filed = now - timedelta(days=i % 28, hours=rng.randint(1, 12))
        roll = rng.random()
        status = (S.REJECTED if roll < 0.08 else S.NEEDS_HUMAN if roll < 0.12 else S.IN_REVIEW if roll < 0.2
                  else S.APPROVED if roll < 0.35 else S.PUBLISHED)
        draft = _draft(world, title=f"Piece {i}", filed=filed, status=status, model=model)
        gen = rng.uniform(25, 45) if new else rng.uniform(50, 90)
        write = _run(draft, AgentRun.Kind.WRITE, cost=f"{rng.uniform(0.015, 0.025) if new else rng.uniform(0.03, 0.05):.4f}",
                     ttft_ms=rng.uniform(150, 300) if new else rng.uniform(300, 600), tokens_out=rng.randint(400, 700),
                     latency_ms=gen * 700)
        agent = _revision(draft, 1, AGENT_TEXT, run=write)
        final = agent
        if status in (S.APPROVED, S.PUBLISHED) and rng.random() < (0.25 if new else 0.6):
            final = _revision(draft, 2, AGENT_TEXT.replace("five six", "5 and 6"), user=world.editor)
        Draft.objects.filter(pk=draft.pk).update(
            current_revision=final, published_revision=final if status == S.PUBLISHED else None)
        draft.current_revision = final
        if status == S.NEEDS_HUMAN:
            _moves(draft, filed, (gen, S.GENERATING, S.NEEDS_HUMAN))
            continue
        steps = [(gen, S.GENERATING, S.IN_REVIEW)]
        latency = gen + rng.uniform(600, 5400 if new else 14400)
        if status == S.REJECTED or rng.random() < 0.15:
            reason = rng.choice(REASONS)
            decision = "reject" if status == S.REJECTED else "request_changes"
            steps.append((gen + 900, S.IN_REVIEW, S.REJECTED if status == S.REJECTED else S.CHANGES_REQUESTED))
            _signoff(world, draft, "editorial", decision, filed + timedelta(seconds=gen + 900), reason)
            if status == S.REJECTED:
                _moves(draft, filed, *steps)
                continue
            steps.append((gen + 1800, S.CHANGES_REQUESTED, S.IN_REVIEW))
            latency += 1800
        if status in (S.APPROVED, S.PUBLISHED):
            steps.append((latency, steps[-1][2], S.APPROVED))
            _signoff(world, draft, "editorial", "approve", filed + timedelta(seconds=latency * 0.6))
            _signoff(world, draft, "brand", "approve", filed + timedelta(seconds=latency))
        if status == S.PUBLISHED:
            steps.append((latency + 300, S.APPROVED, S.PUBLISHED))
        _moves(draft, filed, *steps)
        if rng.random() < 0.3:
            Finding.objects.create(revision=final, category=rng.choice(["banned_term", "claims", "disclaimer"]),
                                   severity="warning", message="m")
    return challenger
