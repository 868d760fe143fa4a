"""Desk pages of the agents: shadow outputs of a draft, compared with what the draft's writer made."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from agents.models import AgentRun
from agents.pipeline.shadow import shadow_baseline, shadow_runs_for, shadow_text
from editorial.diffs import word_diff
from editorial.selectors import draft_get_for_user


@login_required
@require_GET
def shadow_list(request: HttpRequest, pk: int) -> HttpResponse:
    draft = draft_get_for_user(user=request.user, pk=pk)
    return render(request, "agents/shadow_list.html", {"draft": draft, "runs": shadow_runs_for(draft)})


@login_required
@require_GET
def shadow_compare(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    draft = draft_get_for_user(user=request.user, pk=pk)
    run = (AgentRun.objects.filter(pk=run_id, draft=draft, kind=AgentRun.Kind.SHADOW)
           .select_related("model_version", "prompt_version__template").first())
    if run is None:
        raise Http404("No such shadow run of this draft.")
    revision, baseline, writer = shadow_baseline(run)
    text = shadow_text(run)
    sections = list(run.sections.order_by("index"))
    writer_hashes = {s.index: s.prompt_hash for s in writer.sections.all()} if writer else {}
    context = {
        "draft": draft,
        "run": run,
        "writer": writer,
        "revision": revision,
        "diff": word_diff(baseline, text) if run.status == AgentRun.Status.SUCCEEDED or text.strip() else None,
        "view": "side" if request.GET.get("view") == "side" else "inline",
        "same_prompts": bool(sections) and all(writer_hashes.get(s.index) == s.prompt_hash for s in sections),
        "others": [r for r in shadow_runs_for(draft) if r.pk != run.pk],
    }
    return render(request, "agents/shadow_compare.html", context)
