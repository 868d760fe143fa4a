"""Reads of drafts that check access. Views, the API and WebSocket consumers all come through here;
the desk queue's reads are in editorial/queue/."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from agents.models import AgentRun
from editorial.models import Draft, Revision
from governance.permissions import draft_policy


def drafts_for_user(*, user: Any, status: str | None = None) -> QuerySet[Draft]:
    qs = draft_policy.instances_user_has_permission_for(user, "view", Draft.objects.all())
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("brief", "brand", "assignee", "brief__requested_by").order_by("-created_at")


def draft_get_for_user(*, user: Any, pk: int, action: str = "view") -> Draft:
    """404 when the user may not see the draft (its existence is not revealed); 403 when they
    may see it but not do `action`."""
    draft = (
        Draft.objects.select_related(
            "brief__brand", "brief__template", "brief__requested_by", "brand", "current_revision",
            "model_version", "prompt_version__template", "workflow",
        )
        .filter(pk=pk)
        .first()
    )
    if draft is None or not draft_policy.user_has_permission_for_instance(user, "view", draft):
        raise Http404("No such draft.")
    if action != "view" and not draft_policy.user_has_permission_for_instance(user, action, draft):
        raise PermissionDenied(f"You may not {action} this draft.")
    return draft


def revision_get_for_draft(*, draft: Draft, pk: int | str | None) -> Revision:
    try:
        return draft.revisions.get(pk=int(pk))
    except (TypeError, ValueError, Revision.DoesNotExist) as exc:
        raise Http404("No such revision of this draft.") from exc


def live_snapshot(draft: Draft) -> dict[str, Any]:
    """What the writer has streamed so far (from its checkpoint rows), plus step statuses."""
    runs = list(draft.runs.exclude(kind=AgentRun.Kind.SHADOW).order_by("created_at", "id"))
    steps = {}
    for run in runs:  # the latest run of each kind wins
        steps[run.kind] = {"status": run.status, "error": run.error, "run": run.pk}
    writer = next((r for r in reversed(runs) if r.kind == AgentRun.Kind.WRITE), None)
    sections = []
    tokens = 0
    total = len(draft.prompt_version.sections) if draft.prompt_version else 0
    plan = next((r for r in reversed(runs) if r.kind == AgentRun.Kind.PLAN and r.status == AgentRun.Status.SUCCEEDED),
                None)
    if plan is not None and plan.output.get("sections"):  # an approved outline may differ from the template
        total = len(plan.output["sections"])
    if writer is not None:
        for s in writer.sections.all():
            sections.append({"index": s.index, "heading": s.heading, "text": s.text, "done": s.done})
            tokens += s.tokens_out if s.done else 0
    return {
        "draft": draft.pk,
        "status": draft.status,
        "reason": draft.status_reason,
        "steps": steps,
        "sections": sections,
        "sections_total": total,
        "sections_done": sum(1 for s in sections if s["done"]),
        "tokens": tokens,
    }


def section_quality(draft: Draft) -> list[dict[str, Any]]:
    """How each section of the draft's latest write came out (agents/pipeline/acceptance.py): usable
    or not, after how many tries, what was rejected and why, how the accepted text ended (a `length`
    cut is trimmed to its last sentence). For a section no try made usable, its problems and what the
    last try wrote, so a person can see it. Empty before anything was written."""
    writer = draft.runs.filter(kind=AgentRun.Kind.WRITE).order_by("-created_at", "-id").first()
    if writer is None:
        return []
    rows = []
    for section in writer.sections.order_by("index"):
        tries = section.tries or []
        rejected = [{"number": t.get("try"), "problems": t.get("problems", [])} for t in tries if t.get("problems")]
        rows.append({
            "index": section.index,
            "heading": section.heading,
            "usable": section.done,
            "tries": len(tries),
            "finish_reason": section.finish_reason,
            "trimmed": section.trimmed,
            "rejected": rejected,
            "problems": [] if section.done else list(section.problems or []),
            "text": "" if section.done else section.text,
        })
    return rows
