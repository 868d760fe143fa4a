"""The draft page's context, built in one place.

The page and its htmx panels (the proposal panel with the outline checkpoint, the comments panel)
all take their context from here, for one user; the page's template tags
(editorial/templatetags/draftpage.py) only render the panels' values they are given.
"""
from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agents.grounding import grounding_summary
from agents.models import AgentRun
from agents.pipeline import outline as outline_services
from agents.pipeline import regenerate as regen_services
from editorial import comments, selectors
from editorial.attribution import LABELS, attribution_for
from editorial.diffs import word_diff
from editorial.editing import EDITABLE
from editorial.forms import RegenerateForm
from editorial.models import Draft, Revision
from editorial.rendering import ATTRIBUTION_TITLES, render_markdown_with_attribution, render_markdown_with_findings
from editorial.revisions import REVIEW_RESET_STATUSES
from editorial.sections import split_sections
from editorial.sourceflags import open_flags
from governance.gates import gate_states, get_actions, unresolved_blocking_findings
from governance.permissions import draft_policy, gate_policy
from governance.publishing.policy import publish_problem
from governance.signoffs import approving_policy, signoff_refusal


POLICY_SHOWN = (Draft.Status.APPROVED, Draft.Status.PUBLISHED)


def draft_page_context(
    *,
    user: Any,
    draft: Draft,
    regen_form: RegenerateForm | None = None,
    outline_rows: list[outline_services.OutlineRow] | None = None,
    outline_error: str = "",
) -> dict[str, Any]:
    """Everything templates/editorial/draft.html draws, for `user`. A refused rewrite or outline passes
    its bound form (or rows) and error back, so the page shows the person's input with what was wrong."""
    revisions = list(draft.revisions.select_related("author_user", "author_run").order_by("-number"))
    current = draft.current_revision
    states = gate_states(draft)
    blocking = unresolved_blocking_findings(draft)
    for state in states:
        state.actions = get_actions(draft, state, user, blocking=blocking)
        state.can_sign = gate_policy.user_can_sign(user, state.gate, draft)
    findings = list(current.findings.select_related("override__user")) if current else []
    # A proposed rewrite is a newer revision that is not current; compare with what came before current.
    compare_to = next((r for r in revisions if current and r.number < current.number), None)
    _annotate_timeline(revisions)
    # The `a` shortcut approves the first gate this person may approve now, or says why there is none.
    approve_gate = next((s for s in states if "approve" in s.actions), None)
    flags = list(open_flags(draft))
    quality = selectors.section_quality(draft) if draft.status != Draft.Status.GENERATING else []
    approve_refusal = "" if approve_gate else (
        "Nothing for you to approve here: "
        + signoff_refusal(draft=draft, user=user, decision="approve", states=states, blocking=blocking) + ".")
    return {
        "draft": draft,
        "brief": draft.brief,
        "revisions": revisions,
        "current": current,
        "current_html": render_markdown_with_findings(
            current.content, findings, sentences=(current.provenance or {}).get("sentences")
        ) if current else "",
        "grounding": grounding_summary(current.provenance if current else None),
        **attribution_context(current),
        "source_flags": flags,
        "can_send_back_sources": bool(flags) and draft.status in REVIEW_RESET_STATUSES
        and draft_policy.user_has_permission_for_instance(user, "edit", draft),
        "findings": findings,
        "blocking": blocking,
        "can_override": user.has_perm("governance.override_finding"),
        "gates": states,
        # Shadow runs are never the draft's: they have their own page (agents.views.shadow_list), linked
        # with their count.
        "runs": list(draft.runs.exclude(kind=AgentRun.Kind.SHADOW).select_related("model_version", "prompt_version")
                     .order_by("created_at", "id")),
        "shadow_count": draft.runs.filter(kind=AgentRun.Kind.SHADOW).count(),
        "live": selectors.live_snapshot(draft),
        "quality": quality,
        "unusable": next((q for q in quality if not q["usable"] and q["problems"]), None),
        "deliveries": list(draft.deliveries.select_related("connector").prefetch_related("attempts")),
        "can_edit": draft.status in EDITABLE and draft_policy.user_has_permission_for_instance(user, "edit", draft),
        "can_publish": draft.status == Draft.Status.APPROVED
        and draft_policy.user_has_permission_for_instance(user, "publish", draft),
        "can_retract": draft.status == Draft.Status.PUBLISHED
        and draft_policy.user_has_permission_for_instance(user, "publish", draft),
        "can_publish_rights": draft_policy.user_has_permission_for_instance(user, "publish", draft),
        # Approved (and published or scheduled) by a workflow's policy, not a person; and why it did not go out.
        "approved_by_policy": approving_policy(draft) if draft.status in POLICY_SHOWN else "",
        "publish_problem": publish_problem(draft),
        "can_retry": draft.status in (Draft.Status.FAILED, Draft.Status.NEEDS_HUMAN)
        and draft_policy.user_has_permission_for_instance(user, "retry", draft),
        "compare_to": compare_to,
        "diff": word_diff(compare_to.content, current.content) if compare_to and current else None,
        "view": "inline",
        "approve_gate": approve_gate,
        "approve_refusal": approve_refusal,
        "regen_panel": regen_panel_context(user=user, draft=draft, regen_form=regen_form, outline_rows=outline_rows,
                                           outline_error=outline_error),
        "comments_panel": comments_panel_context(user=user, draft=draft),
    }


def attribution_context(current: Revision | None) -> dict[str, Any]:
    """The reading view tinted by who wrote what (editorial/attribution.py), and its legend."""
    if current is None:
        return {"attribution": None}
    result = attribution_for(current)
    total = result.total
    return {
        "attribution": result,
        "attribution_percent": round(100 * result.ai_share),
        "attribution_html": render_markdown_with_attribution(current.content, result.spans),
        "attribution_legend": [
            {"label": label, "title": ATTRIBUTION_TITLES[label], "words": result.words[label],
             "percent": round(100 * result.words[label] / total) if total else 0}
            for label in LABELS
        ],
    }


def draft_page_render(request: HttpRequest, draft: Draft, *, status: int = 200, **extra: Any) -> HttpResponse:
    """The draft page; with a 4xx status, the page again after refused input (see `draft_page_context`)."""
    return render(request, "editorial/draft.html", draft_page_context(user=request.user, draft=draft, **extra),
                  status=status)


def draft_page_again(request: HttpRequest, draft: Draft, *, status: int, **extra: Any) -> HttpResponse:
    """The draft page again after refused input, with the draft as it is now (re-read, as the person sees it)."""
    draft = selectors.draft_get_for_user(user=request.user, pk=draft.pk)
    return draft_page_render(request, draft, status=status, **extra)


def regen_panel_context(
    *,
    user: Any,
    draft: Draft,
    regen_form: RegenerateForm | None = None,
    outline_rows: list[outline_services.OutlineRow] | None = None,
    outline_error: str = "",
) -> dict[str, Any]:
    """What templates/editorial/_regen.html draws: the proposal panel and, while the draft waits for
    it, the outline checkpoint."""
    current = draft.current_revision
    can_regenerate = regen_services.can_regenerate(user, draft)
    context: dict[str, Any] = {
        "draft": draft,
        "current": current,
        "proposals": regen_services.proposals_for_panel(draft),
        "can_decide": can_regenerate,
        "can_regenerate": can_regenerate,
        "examples": regen_services.INSTRUCTION_EXAMPLES,
        "max_instruction": regen_services.MAX_INSTRUCTION,
    }
    if can_regenerate:
        context["sections"] = split_sections(current.content)
        context["regen_form"] = regen_form or RegenerateForm(
            initial={"base_revision": current.pk, "key": uuid.uuid4().hex, "section": 0}
        )
    if draft.status == Draft.Status.OUTLINE_REVIEW:
        rows = outline_rows
        if rows is None:
            rows = [outline_services.OutlineRow(heading=s.get("heading", ""), instruction=s.get("instruction", ""))
                    for s in outline_services.outline_of(draft)]
        requester = draft.brief.requested_by
        context["outline"] = {
            "rows": rows,
            "error": outline_error,
            "can_approve": outline_services.may_approve_outline(user, draft),
            "requester": requester.get_full_name() or requester.get_username(),
            "max_sections": outline_services.MAX_SECTIONS,
            "max_heading": outline_services.MAX_HEADING,
            "max_instruction": outline_services.MAX_INSTRUCTION,
        }
    return context


def comments_panel_context(*, user: Any, draft: Draft, **extra: Any) -> dict[str, Any]:
    """What the comments panel (templates/editorial/comments.html#panel) draws; `extra` carries a refused
    post back (the person's input, the errors, where the focus goes)."""
    views = comments.threads_for_draft(user=user, draft=draft)
    current = draft.current_revision
    for v in views:
        for c in v.comments:
            c.html = comments.render_body(c)
    open_threads = [v for v in views if not v.thread.is_resolved]
    return {
        "draft": draft,
        "current": current,
        "sections": comments.headings(current.content) if current else [],
        "open_threads": open_threads,
        "resolved_threads": [v for v in views if v.thread.is_resolved],
        "marks": [
            {"thread": v.thread.pk, "quote": v.thread.quote, "occurrence": v.occurrence}
            for v in open_threads if v.thread.quote and v.current_start is not None
        ],
        "max_body": comments.MAX_BODY_CHARS,
        "form": {},
        "form_errors": {},
        "reply_to": None,
        "reply_body": "",
        "reply_errors": [],
        "panel_error": "",
        "focus": "",
        "status_text": "",
        **extra,
    }


def _annotate_timeline(revisions: list[Revision]) -> None:
    """What the timeline says of each revision (newest first): what it was based on, and whether
    it brought back an earlier one."""
    by_pk = {r.pk: r for r in revisions}
    for index, r in enumerate(revisions):
        older = revisions[index + 1] if index + 1 < len(revisions) else None
        r.previous = by_pk.get(r.parent_id, older)
        restored = (r.provenance or {}).get("restored_from") if r.author_user_id else None
        r.restored_from_number = restored.get("number") if isinstance(restored, dict) else None
        # The restore note repeats what the timeline says already; keep only what the person added.
        label = f"Restored from r{r.restored_from_number}"
        r.display_note = r.note.removeprefix(label).lstrip(": ") if r.restored_from_number else r.note
