"""The desk queue: "my queue", the team queues and all items, filtered, searched, sorted and paged;
bulk actions on ticked rows; claiming and assigning an item."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from editorial import assignments, selectors
from editorial.models import Draft
from editorial.queue import paging, selection
from editorial.queue.sources import draft_sources_send_back
from editorial.views.redirects import next_url
from governance.models import Channel, Risk
from governance.permissions import brand_members, brands_for_user, error_text
from governance.signoffs import signoffs_bulk


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The desk: "my queue" (what waits for something this user may do), a team queue per gate they
    sign, and all items of their brands; filtered, searched, sorted and paged by keyset."""
    options = selection.queue_options_for_user(request.user)
    params = _queue_params(request.GET, options)
    chosen = selection.queue_select(user=request.user, tab=params.tab, filters=params.filters, rules=options.rules)
    drafts = chosen.drafts
    page = paging.queue_page(drafts, sort=params.sort, risk=params.filters.risk, after=params.after,
                             before=params.before, bounded=chosen.bounded)
    selection.queue_annotate(page.items, user=request.user, options=options)
    # Counting a filtered view would search it all again; it is counted only when it fits on one page.
    # "My queue" is always counted (up to a cap), for its tab.
    mine_count = None
    if params.tab == "mine" and not params.filtered:
        page.count, page.count_capped = mine_count = paging.queue_count(drafts)
    elif not (params.after or params.before or page.next_cursor):
        page.count = len(page.items)
    template = "editorial/queue.html"
    if request.htmx and request.htmx.target == "queue-rows":
        template += "#rows"  # the tabs are not part of the partial
    elif mine_count is None:
        mine_count = paging.queue_count(selection.queue_drafts_for_user(user=request.user, rules=options.rules))
    return render(request, template, _queue_context(request, options, params, page, mine_count))


@dataclass
class QueueParams:
    """The queue's query string, checked: unknown values are dropped, each with a note saying so."""

    tab: str = "mine"
    sort: str = "urgent"
    filters: selection.QueueFilters = field(default_factory=selection.QueueFilters)
    after: paging.QueueCursor | None = None
    before: paging.QueueCursor | None = None
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
            ("q", f.q), ("sources", f.sources), ("approved_by", f.approved_by),
        ):
            if value not in ("", None):
                values[name] = value
        if sort and self.explicit_sort:
            values["sort"] = self.sort
        return urlencode(values)


def _queue_params(get: QueryDict, options: selection.QueueOptions) -> QueueParams:
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
    f.sources = pick("sources", {"changed"}, "sources filter")
    f.approved_by = pick("approved_by", {"policy"}, "approval filter")
    sort = pick("sort", set(paging.SORTS), "sort order")
    params.explicit_sort = bool(sort)
    params.sort = sort or ("newest" if params.tab == "all" else "urgent")
    for name in ("after", "before"):
        raw = get.get(name, "")
        if raw:
            cursor = paging.QueueCursor.decode(raw)
            if cursor is None:
                notes.append("Ignored a page position that is not valid; showing the first page.")
            else:
                setattr(params, name, cursor)
    if params.after and params.before:
        params.before = None
    return params


def _queue_context(request: HttpRequest, options: selection.QueueOptions, params: QueueParams,
                   page: paging.QueuePage, mine_count: tuple[int, bool] | None) -> dict:
    tabs = [{"key": "mine", "label": "My queue", "count": mine_count}]
    tabs += [{"key": f"gate-{g.id}", "label": selection.gate_tab_label(g, options.gates), "count": None}
             for g in options.gates]
    tabs += [{"key": "all", "label": "All items", "count": None}]
    return {
        "tabs": tabs,
        "tab": params.tab,
        # Drafts no try could write usably (or whose model could not be called): a person decides.
        "needs_human": selectors.drafts_for_user(user=request.user, status=Draft.Status.NEEDS_HUMAN).count(),
        "params": params,
        "filters": params.filters,
        "sort": params.sort,
        "sorts": paging.SORTS,
        "notes": params.notes,
        "options": options,
        "page": page,
        "statuses": Draft.Status.choices,
        "channels": Channel.choices,
        "risks": Risk.choices,
        "ages": QUEUE_AGES,
        "age_custom": params.filters.older_than_hours
        if params.filters.older_than_hours not in (None, *(h for h, _ in QUEUE_AGES)) else None,
        "sort_label": paging.SORTS[params.sort],
        "filter_query": params.query(tab=False, sort=False),
        "page_query": params.query(),
        "sla_amber_hours": int(selection.SLA_AMBER.total_seconds() // 3600),
        "sla_red_hours": int(selection.SLA_RED.total_seconds() // 3600),
        "bulk_actions": BULK_ACTIONS,
        "bulk_max": BULK_MAX,
    }


QUEUE_AGES = [(24, "over 24 h"), (72, "over 3 days"), (168, "over a week")]
BULK_ACTIONS = {"approve": "Approve", "send_back": "Send back", "assign": "Assign to…",
                "sources_review": "Back to review: sources changed"}
BULK_DONE = {"approve": "approved", "send_back": "sent back", "assign": "assigned",
             "sources_review": "sent back to review"}
BULK_MAX = 100


def _ids(values: list[str]) -> list[int]:
    seen: dict[int, None] = {}
    for value in values:
        if value.strip().isdigit():
            seen.setdefault(int(value), None)
    return list(seen)


def _bulk_one(*, draft: Draft, user, action: str, assignee, reason: str, revision_id: int | None) -> None:
    """One row of a bulk action; raises (and changes nothing) when the row is refused."""
    if action == "assign":
        assignments.draft_assign(draft=draft, user=user, assignee=assignee)
        return
    if action == "sources_review":
        draft_sources_send_back(draft=draft, user=user)
        return
    signoffs_bulk(draft=draft, user=user, decision="approve" if action == "approve" else "request_changes",
                  comment=reason, revision_id=revision_id)


@login_required
@require_POST
def queue_bulk(request: HttpRequest) -> HttpResponse:
    """Approve, send back or assign the ticked rows: a confirmation page first, then each row on its own;
    a refused row changes nothing and is listed with its reason."""
    back = next_url(request, reverse("editorial:queue"))
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
        # Only people of the requester's brands: another brand's username is as unknown as a made-up one.
        people = brand_members(list(brands_for_user(request.user))) if username else []
        assignee = next((person for person in people if person.username == username), None)
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
    back = next_url(request, reverse("editorial:queue"))
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
    return redirect(next_url(request, reverse("editorial:queue")))


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
    return redirect(next_url(request, reverse("editorial:queue")))
