from __future__ import annotations

from agents.models import AgentRun
from editorial.briefs import brief_create
from editorial.models import Draft
from editorial.revisions import revision_create
from tests.factories import World


def file_brief(world: World, *, risk: str = "low", channel: str = "blog", title: str = "Autumn roast") -> Draft:
    """A brief filed through the service (its pipeline task is enqueued only on commit)."""
    return brief_create(
        user=world.requester, brand=world.brand, title=title, goal="Announce the autumn roast",
        audience="coffee lovers", channel=channel, tone="warm", risk=risk, template=world.template,
    )


def draft_in_review(world: World, *, risk: str = "low", content: str = "## Part 1\n\nHello coffee lovers.",
                    channel: str = "blog") -> Draft:
    draft = file_brief(world, risk=risk, channel=channel)
    run = AgentRun.objects.create(draft=draft, kind=AgentRun.Kind.WRITE, status=AgentRun.Status.SUCCEEDED,
                                  idempotency_key=f"test:{draft.pk}:write")
    revision_create(draft=draft, content=content, author_run=run, provenance={"model": "test-model"})
    Draft.objects.filter(pk=draft.pk).update(status=Draft.Status.IN_REVIEW)
    draft.refresh_from_db()
    return draft


def drive(draft: Draft, *, max_steps: int = 20) -> list[Exception]:
    """Do what the worker does: execute the draft's queued runs in order; return the transient errors
    (each would have been a Celery retry)."""
    from agents.pipeline.kinds import run_execute
    from agents.pipeline.runs import TransientRunError

    retries: list[Exception] = []
    for _ in range(max_steps):
        run = AgentRun.objects.filter(draft=draft, status=AgentRun.Status.QUEUED).order_by("id").first()
        if run is None:
            break
        try:
            run_execute(run_id=run.pk)
        except TransientRunError as exc:
            retries.append(exc)
    return retries
