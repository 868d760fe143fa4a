"""HTML views: parse → service → render. Access is checked by the selectors and services."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.services import pipeline_retry
from editorial import selectors, services
from editorial.diffs import word_diff
from editorial.forms import BriefForm, EditForm, SignOffForm
from editorial.models import Draft
from editorial.rendering import render_markdown_with_findings
from governance.gates import gate_states, get_actions, unresolved_blocking_findings
from governance.models import Gate
from governance.permissions import draft_policy, gate_policy
from governance.services import draft_publish, signoff_record


def _error_text(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "You are not allowed to do that."


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or ""
    if status and status not in Draft.Status.values:
        status = ""
    drafts = selectors.drafts_for_user(user=request.user, status=status or None)
    page = Paginator(drafts, 25).get_page(request.GET.get("page"))
    template = "editorial/queue.html"
    if request.htmx and request.htmx.target == "queue-rows":
        template += "#rows"
    return render(request, template, {"page": page, "status": status, "statuses": Draft.Status.choices})


@login_required
@require_http_methods(["GET", "POST"])
def brief_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("editorial.add_brief"):
        raise PermissionDenied("Your role cannot file briefs.")
    form = BriefForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            draft = services.brief_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]:
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Brief filed. The draft is being written — watch it appear below.")
            return redirect("editorial:draft", pk=draft.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "editorial/brief_form.html", {"form": form}, status=status)


def _draft_context(request: HttpRequest, draft: Draft) -> dict:
    revisions = list(draft.revisions.select_related("author_user", "author_run").order_by("-number"))
    current = draft.current_revision
    states = gate_states(draft)
    blocking = unresolved_blocking_findings(draft)
    for state in states:
        state.actions = get_actions(draft, state, request.user, blocking=blocking)
        state.can_sign = gate_policy.user_can_sign(request.user, state.gate, draft)
    findings = list(current.findings.select_related("override__user")) if current else []
    compare_to = revisions[1] if len(revisions) > 1 else None
    return {
        "draft": draft,
        "brief": draft.brief,
        "revisions": revisions,
        "current": current,
        "current_html": render_markdown_with_findings(current.content, findings) if current else "",
        "findings": findings,
        "blocking": blocking,
        "can_override": request.user.has_perm("governance.override_finding"),
        "gates": states,
        "runs": list(draft.runs.select_related("model_version", "prompt_version").order_by("created_at", "id")),
        "live": selectors.live_snapshot(draft),
        "deliveries": list(draft.deliveries.select_related("connector").prefetch_related("attempts")),
        "can_edit": draft.status in services.EDITABLE
        and draft_policy.user_has_permission_for_instance(request.user, "edit", draft),
        "can_publish": draft.status == Draft.Status.APPROVED
        and draft_policy.user_has_permission_for_instance(request.user, "publish", draft),
        "can_retract": draft.status == Draft.Status.PUBLISHED
        and draft_policy.user_has_permission_for_instance(request.user, "publish", draft),
        "can_publish_rights": draft_policy.user_has_permission_for_instance(request.user, "publish", draft),
        "can_retry": draft.status == Draft.Status.FAILED
        and draft_policy.user_has_permission_for_instance(request.user, "retry", draft),
        "compare_to": compare_to,
        "diff": word_diff(compare_to.content, current.content) if compare_to and current else None,
    }


@login_required
@require_GET
def draft_detail(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    return render(request, "editorial/draft.html", _draft_context(request, draft))


@login_required
@require_GET
def draft_live(request: HttpRequest, pk: int) -> JsonResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    return JsonResponse(selectors.live_snapshot(draft))


@login_required
@require_GET
def draft_diff(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    old = selectors.revision_get_for_draft(draft=draft, pk=request.GET.get("a"))
    new = selectors.revision_get_for_draft(draft=draft, pk=request.GET.get("b"))
    context = {"draft": draft, "old": old, "new": new, "diff": word_diff(old.content, new.content)}
    template = "editorial/diff.html#diff" if request.htmx else "editorial/diff.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def draft_edit(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk, action="edit")
    current = draft.current_revision
    if current is None:
        messages.error(request, "There is no revision to edit yet.")
        return redirect("editorial:draft", pk=draft.pk)
    conflict = None
    if request.method == "POST":
        form = EditForm(request.POST)
        if form.is_valid():
            try:
                services.draft_edit(
                    draft=draft,
                    user=request.user,
                    content=form.cleaned_data["content"],
                    base_revision_id=form.cleaned_data["base_revision"],
                    note=form.cleaned_data["note"],
                )
            except services.EditConflict as exc:
                # Keep the person's text; show what changed underneath them.
                base = draft.revisions.filter(pk=form.cleaned_data["base_revision"]).first()
                conflict = {
                    "current": exc.current,
                    "diff": word_diff(base.content if base else "", exc.current.content),
                }
                form = EditForm(
                    initial={"content": form.cleaned_data["content"], "base_revision": exc.current.pk,
                             "note": form.cleaned_data["note"]}
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    form.add_error(None, exc.messages)
            else:
                messages.success(request, "Saved as a new revision.")
                return redirect("editorial:draft", pk=draft.pk)
    else:
        form = EditForm(initial={"content": current.content, "base_revision": current.pk})
    status = 409 if conflict else (422 if request.method == "POST" else 200)
    return render(
        request, "editorial/edit.html", {"draft": draft, "form": form, "current": current, "conflict": conflict},
        status=status,
    )


@login_required
@require_POST
def gate_action(request: HttpRequest, pk: int, gate_id: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    gate = get_object_or_404(Gate, pk=gate_id, stage__workflow_id=draft.workflow_id)
    form = SignOffForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That sign-off was incomplete; nothing was recorded.")
        return redirect("editorial:draft", pk=draft.pk)
    try:
        signoff_record(
            draft=draft,
            gate=gate,
            user=request.user,
            decision=form.cleaned_data["decision"],
            revision_id=form.cleaned_data["revision"],
            comment=form.cleaned_data["comment"],
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
        return redirect("editorial:draft", pk=draft.pk)
    messages.success(request, f"{gate.name}: {form.cleaned_data['decision'].replace('_', ' ')} recorded.")
    return redirect("editorial:draft", pk=draft.pk)


@login_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    try:
        deliveries = draft_publish(draft=draft, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        names = ", ".join(d.connector.name for d in deliveries)
        messages.success(request, f"Published. Sending to {names}.")
    return redirect("editorial:draft", pk=draft.pk)


@login_required
@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk, action="retry")
    try:
        pipeline_retry(draft=draft, user=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Retrying from the step that failed.")
    return redirect("editorial:draft", pk=draft.pk)
