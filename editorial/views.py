"""HTML views: parse → service → render. Access is checked by the selectors and services."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.grounding import grounding_summary
from agents.models import AgentRun
from agents.services import pipeline_retry
from editorial import assignments, briefs, editing, selectors
from editorial.diffs import word_diff
from editorial.forms import BriefForm, EditForm, SignOffForm
from editorial.models import Draft, Revision
from editorial.rendering import render_markdown_with_findings
from governance.gates import gate_states, get_actions, unresolved_blocking_findings
from governance.models import Channel, Gate, Risk
from governance.permissions import draft_policy, error_text, gate_policy
from governance.services import draft_publish, signoff_record


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The desk: "my queue" (what waits for something this user may do), a team queue per gate they
    sign, and all items of their brands; filtered, searched, sorted and paged by keyset."""
    options = selectors.queue_options_for_user(request.user)
    params = _queue_params(request.GET, options)
    selection = selectors.queue_select(user=request.user, tab=params.tab, filters=params.filters, rules=options.rules)
    drafts = selection.drafts
    page = selectors.queue_page(drafts, sort=params.sort, risk=params.filters.risk, after=params.after,
                                before=params.before, bounded=selection.bounded)
    selectors.queue_annotate(page.items, user=request.user, options=options)
    # Counting a filtered view would search it all again; it is counted only when it fits on one page.
    # "My queue" is always counted (up to a cap), for its tab.
    mine_count = None
    if params.tab == "mine" and not params.filtered:
        page.count, page.count_capped = mine_count = selectors.queue_count(drafts)
    elif not (params.after or params.before or page.next_cursor):
        page.count = len(page.items)
    template = "editorial/queue.html"
    if request.htmx and request.htmx.target == "queue-rows":
        template += "#rows"  # the tabs are not part of the partial
    elif mine_count is None:
        mine_count = selectors.queue_count(selectors.queue_drafts_for_user(user=request.user, rules=options.rules))
    return render(request, template, _queue_context(request, options, params, page, mine_count))


@login_required
@require_http_methods(["GET", "POST"])
def brief_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("editorial.add_brief"):
        raise PermissionDenied("Your role cannot file briefs.")
    form = BriefForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            draft = briefs.brief_create(user=request.user, **form.cleaned_data)
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
    # regen: a proposed rewrite is a newer revision that is not current; compare with what came before current.
    compare_to = next((r for r in revisions if current and r.number < current.number), None)
    _annotate_timeline(revisions)
    # The `a` shortcut approves the first gate this person may approve now, or says why there is none.
    approve_gate = next((s for s in states if "approve" in s.actions), None)
    approve_refusal = "" if approve_gate else (
        "Nothing for you to approve here: " + _bulk_refusal(draft, request.user, "approve", states, blocking) + ".")
    return {
        "draft": draft,
        "brief": draft.brief,
        "revisions": revisions,
        "current": current,
        "current_html": render_markdown_with_findings(
            current.content, findings, sentences=(current.provenance or {}).get("sentences")
        ) if current else "",
        "grounding": grounding_summary(current.provenance if current else None),
        "findings": findings,
        "blocking": blocking,
        "can_override": request.user.has_perm("governance.override_finding"),
        "gates": states,
        # Shadow runs are never the draft's: they have their own page (agents.views.shadow_list).
        "runs": list(draft.runs.exclude(kind=AgentRun.Kind.SHADOW).select_related("model_version", "prompt_version")
                     .order_by("created_at", "id")),
        "live": selectors.live_snapshot(draft),
        "deliveries": list(draft.deliveries.select_related("connector").prefetch_related("attempts")),
        "can_edit": draft.status in editing.EDITABLE
        and draft_policy.user_has_permission_for_instance(request.user, "edit", draft),
        "can_publish": draft.status == Draft.Status.APPROVED
        and draft_policy.user_has_permission_for_instance(request.user, "publish", draft),
        "can_retract": draft.status == Draft.Status.PUBLISHED
        and draft_policy.user_has_permission_for_instance(request.user, "publish", draft),
        "can_publish_rights": draft_policy.user_has_permission_for_instance(request.user, "publish", draft),
        "can_retry": draft.status in (Draft.Status.FAILED, Draft.Status.NEEDS_HUMAN)
        and draft_policy.user_has_permission_for_instance(request.user, "retry", draft),
        "compare_to": compare_to,
        "diff": word_diff(compare_to.content, current.content) if compare_to and current else None,
        "view": "inline",
        "approve_gate": approve_gate,
        "approve_refusal": approve_refusal,
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
    """Any two revisions of the draft, inline or side by side. Without `b` the current revision,
    without `a` the one `b` was based on."""
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    new = selectors.revision_get_for_draft(draft=draft, pk=request.GET.get("b") or draft.current_revision_id)
    old = selectors.revision_get_for_draft(draft=draft, pk=request.GET.get("a") or new.parent_id)
    context = {
        "draft": draft,
        "old": old,
        "new": new,
        "diff": word_diff(old.content, new.content),
        "view": "side" if request.GET.get("view") == "side" else "inline",
        "revisions": list(draft.revisions.select_related("author_user", "author_run").order_by("-number")),
        "push_url": True,
    }
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
                editing.draft_edit(
                    draft=draft,
                    user=request.user,
                    content=form.cleaned_data["content"],
                    base_revision_id=form.cleaned_data["base_revision"],
                    note=form.cleaned_data["note"],
                )
            except editing.EditAlreadySaved as exc:
                # Saved by the first submit: the copy kept in the browser can go, as after any save.
                messages.info(request, str(exc), extra_tags="edit-saved")
                return redirect("editorial:draft", pk=draft.pk)
            except editing.EditConflict as exc:
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
                # The tag tells the page to drop the copy of the text kept in the browser while editing.
                messages.success(request, "Saved as a new revision.", extra_tags="edit-saved")
                return redirect("editorial:draft", pk=draft.pk)
    else:
        form = EditForm(initial={"content": current.content, "base_revision": current.pk})
    status = 409 if conflict else (422 if request.method == "POST" else 200)
    return render(
        request, "editorial/edit.html", {"draft": draft, "form": form, "current": current, "conflict": conflict},
        status=status,
    )


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


@login_required
@require_POST
def revision_restore(request: HttpRequest, pk: int, revision_id: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk, action="edit")
    try:
        revision = editing.revision_restore(
            draft=draft, user=request.user, revision_id=revision_id, note=request.POST.get("note", "")
        )
    except (ValidationError, PermissionDenied) as exc:
        # The draft page again, with the reason; a refused restore is bad input, not a redirect.
        messages.error(request, error_text(exc))
        status = 403 if isinstance(exc, PermissionDenied) else 400
        return render(request, "editorial/draft.html", _draft_context(request, draft), status=status)
    source = revision.provenance["restored_from"]["number"]
    messages.success(request, f"Restored r{source} as the new revision r{revision.number}; nothing was deleted.")
    return redirect("editorial:draft", pk=draft.pk)


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
        messages.error(request, error_text(exc))
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
        messages.error(request, error_text(exc))
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


# --- the desk queue: parsing, bulk actions, claiming -------------------------------------------------

@dataclass
class QueueParams:
    """The queue's query string, checked: unknown values are dropped, each with a note saying so."""

    tab: str = "mine"
    sort: str = "urgent"
    filters: selectors.QueueFilters = field(default_factory=selectors.QueueFilters)
    after: selectors.QueueCursor | None = None
    before: selectors.QueueCursor | None = None
    notes: list[str] = field(default_factory=list)
    explicit_sort: bool = False

    @property
    def filtered(self) -> bool:
        return any(value not in ("", None) for value in vars(self.filters).values())

    def query(self, *, tab: bool = True, sort: bool = True) -> str:
        """The query string of these filters (no page position), for links that keep them."""
        values: dict[str, object] = {}
        if tab:
            values["tab"] = self.tab
        f = self.filters
        for name, value in (
            ("status", f.status), ("channel", f.channel), ("risk", f.risk), ("template", f.template),
            ("model", f.model), ("brand", f.brand), ("assignee", f.assignee), ("age", f.older_than_hours),
            ("q", f.q),
        ):
            if value not in ("", None):
                values[name] = value
        if sort and self.explicit_sort:
            values["sort"] = self.sort
        return urlencode(values)


def _queue_params(get: QueryDict, options: selectors.QueueOptions) -> QueueParams:
    params = QueueParams()
    notes = params.notes

    def pick(name: str, allowed: set[str], label: str) -> str:
        value = get.get(name, "").strip()
        if value and value not in allowed:
            notes.append(f"Ignored the unknown {label} “{value[:60]}”.")
            return ""
        return value

    tabs = {"mine", "all"} | {f"gate-{gate.id}" for gate in options.gates}
    params.tab = pick("tab", tabs, "queue") or "mine"
    f = params.filters
    f.status = pick("status", set(Draft.Status.values), "status")
    f.channel = pick("channel", set(Channel.values), "channel")
    f.risk = pick("risk", set(Risk.values), "risk")
    f.template = pick("template", {t.slug for t in options.templates}, "template")
    model = pick("model", {str(m.pk) for m in options.models}, "model version")
    f.model = int(model) if model else None
    f.brand = pick("brand", {b.slug for b in options.brands}, "brand")
    f.assignee = pick("assignee", {"none"} | {p.get_username() for p in options.people}, "assignee")
    age = get.get("age", "").strip()
    if age:
        if age.isdigit() and 1 <= int(age) <= 24 * 366:
            f.older_than_hours = int(age)
        else:
            notes.append(f"Ignored the age “{age[:20]}”: give a whole number of hours.")
    f.q = " ".join(get.get("q", "").split())[:200]
    sort = pick("sort", set(selectors.SORTS), "sort order")
    params.explicit_sort = bool(sort)
    params.sort = sort or ("newest" if params.tab == "all" else "urgent")
    for name in ("after", "before"):
        raw = get.get(name, "")
        if raw:
            cursor = selectors.QueueCursor.decode(raw)
            if cursor is None:
                notes.append("Ignored a page position that is not valid; showing the first page.")
            else:
                setattr(params, name, cursor)
    if params.after and params.before:
        params.before = None
    return params


def _queue_context(request: HttpRequest, options: selectors.QueueOptions, params: QueueParams,
                   page: selectors.QueuePage, mine_count: tuple[int, bool] | None) -> dict:
    tabs = [{"key": "mine", "label": "My queue", "count": mine_count}]
    tabs += [{"key": f"gate-{g.id}", "label": selectors.gate_tab_label(g, options.gates), "count": None}
             for g in options.gates]
    tabs += [{"key": "all", "label": "All items", "count": None}]
    return {
        "tabs": tabs,
        "tab": params.tab,
        "params": params,
        "filters": params.filters,
        "sort": params.sort,
        "sorts": selectors.SORTS,
        "notes": params.notes,
        "options": options,
        "page": page,
        "statuses": Draft.Status.choices,
        "channels": Channel.choices,
        "risks": Risk.choices,
        "ages": QUEUE_AGES,
        "age_custom": params.filters.older_than_hours
        if params.filters.older_than_hours not in (None, *(h for h, _ in QUEUE_AGES)) else None,
        "sort_label": selectors.SORTS[params.sort],
        "filter_query": params.query(tab=False, sort=False),
        "page_query": params.query(),
        "sla_amber_hours": int(selectors.SLA_AMBER.total_seconds() // 3600),
        "sla_red_hours": int(selectors.SLA_RED.total_seconds() // 3600),
        "bulk_actions": BULK_ACTIONS,
        "bulk_max": BULK_MAX,
    }


QUEUE_AGES = [(24, "over 24 h"), (72, "over 3 days"), (168, "over a week")]
BULK_ACTIONS = {"approve": "Approve", "send_back": "Send back", "assign": "Assign to…"}
BULK_DONE = {"approve": "approved", "send_back": "sent back", "assign": "assigned"}
BULK_MAX = 100


def _next_url(request: HttpRequest) -> str:
    """Back to the queue the person came from (filters kept), never to another site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return reverse("editorial:queue")


def _ids(values: list[str]) -> list[int]:
    seen: dict[int, None] = {}
    for value in values:
        if value.strip().isdigit():
            seen.setdefault(int(value), None)
    return list(seen)


def _bulk_refusal(draft: Draft, user, decision: str, states: list, blocking: list) -> str:
    if draft.status != Draft.Status.IN_REVIEW:
        return f"it is “{draft.get_status_display()}”, not in review"
    if decision == "approve" and blocking and any(get_actions(draft, s, user, blocking=blocking) for s in states):
        n = len(blocking)
        return f"{n} blocking finding{'s' if n != 1 else ''} must be fixed or overridden first"
    return "none of its open gates is yours to sign"


def _bulk_one(*, draft: Draft, user, action: str, assignee, reason: str, revision_id: int | None) -> None:
    """One row of a bulk action; raises (and changes nothing) when the row is refused."""
    if action == "assign":
        assignments.draft_assign(draft=draft, user=user, assignee=assignee)
        return
    decision = "approve" if action == "approve" else "request_changes"
    states = gate_states(draft)
    blocking = unresolved_blocking_findings(draft)
    open_states = [s for s in states if decision in get_actions(draft, s, user, blocking=blocking)]
    if not open_states:
        raise PermissionDenied(_bulk_refusal(draft, user, decision, states, blocking))
    if decision == "request_changes":
        open_states = open_states[:1]  # sent back from the earliest open gate (Editorial, usually)
    revision_id = revision_id or draft.current_revision_id
    with transaction.atomic():  # a row's gates are signed together, or not at all
        for index, state in enumerate(open_states):
            if index and Draft.objects.filter(pk=draft.pk).values_list("status", flat=True).get() != "in_review":
                break  # the hard gates are all signed now; nothing left to approve
            signoff_record(draft=draft, gate=state.gate, user=user, decision=decision, revision_id=revision_id,
                           comment=reason)


@login_required
@require_POST
def queue_bulk(request: HttpRequest) -> HttpResponse:
    """Approve, send back or assign the ticked rows: a confirmation page first, then each row on its own;
    a refused row changes nothing and is listed with its reason."""
    back = _next_url(request)
    ids = _ids(request.POST.getlist("ids"))
    action = request.POST.get("action", "")
    reason = request.POST.get("reason", "").strip()
    if not ids:
        messages.error(request, "Select at least one item first; nothing was changed.")
        return redirect(back)
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose what to do with the selected items; nothing was changed.")
        return redirect(back)
    if len(ids) > BULK_MAX:
        messages.error(request, f"Select at most {BULK_MAX} items at a time; nothing was changed.")
        return redirect(back)
    if action == "send_back" and not reason:
        messages.error(request, "Say why the items go back: a reason is required. Nothing was changed.")
        return redirect(back)
    assignee = None
    if action == "assign":
        username = request.POST.get("assignee", "")
        assignee = get_user_model().objects.filter(username=username, is_active=True).first() if username else None
        if assignee is None:
            messages.error(request, "Choose who to assign the items to; nothing was changed.")
            return redirect(back)
    found = {
        d.pk: d
        for d in selectors.drafts_for_user(user=request.user).filter(pk__in=ids).select_related("current_revision")
    }
    if request.POST.get("confirm") != "yes":
        return render(request, "editorial/queue_bulk_confirm.html", {
            "action": action, "action_label": BULK_ACTIONS[action], "drafts": [found[pk] for pk in ids if pk in found],
            "missing": [pk for pk in ids if pk not in found], "reason": reason, "assignee": assignee, "next": back,
        })
    done: list[Draft] = []
    skipped: list[str] = []
    for pk in ids:
        draft = found.get(pk)
        if draft is None:
            skipped.append(f"#{pk} — not found")
            continue
        revision = request.POST.get(f"rev-{pk}", "")
        try:
            _bulk_one(draft=draft, user=request.user, action=action, assignee=assignee, reason=reason,
                      revision_id=int(revision) if revision.isdigit() else None)
        except (ValidationError, PermissionDenied) as exc:
            skipped.append(f"“{draft.title}” — {error_text(exc)}")
        else:
            done.append(draft)
    verb = BULK_DONE[action] + (f" to {assignee.get_full_name() or assignee.get_username()}" if assignee else "")
    summary = f"{len(done)} {verb}"
    if skipped:
        summary += f", {len(skipped)} skipped: " + "; ".join(skipped)
        messages.warning(request, summary)
    else:
        messages.success(request, summary + ".")
    return redirect(back)


@login_required
@require_POST
def claim(request: HttpRequest, pk: int) -> HttpResponse:
    """"I'm reviewing this." Over someone else's claim, asks first (409 with a confirmation form)."""
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    back = _next_url(request)
    try:
        assignments.draft_claim(draft=draft, user=request.user, force=request.POST.get("force") == "yes")
    except assignments.AlreadyClaimed as exc:
        context = {"draft": draft, "assignee": exc.assignee, "next": back}
        return render(request, "editorial/claim_confirm.html", context, status=409)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"You are reviewing “{draft.title}”.")
    return redirect(back)


@login_required
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    username = request.POST.get("assignee", "")
    assignee = get_user_model().objects.filter(username=username).first() if username else None
    try:
        assignments.draft_assign(draft=draft, user=request.user, assignee=assignee)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"“{draft.title}” is assigned to {assignee.get_full_name() or username}.")
    return redirect(_next_url(request))


@login_required
@require_POST
def unassign(request: HttpRequest, pk: int) -> HttpResponse:
    draft = selectors.draft_get_for_user(user=request.user, pk=pk)
    try:
        assignments.draft_unassign(draft=draft, user=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Nobody is reviewing “{draft.title}” now.")
    return redirect(_next_url(request))
