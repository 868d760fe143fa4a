"""/api/v1 queue: the review desk's items, filtered, a page at a time."""
from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from editorial.api.pagination import cursor_param, limit_param, paginate
from editorial.queue import selection
from editorial.queue.sources import open_flag_counts
from editorial.schemas import QueueFilters, QueuePage, errors
from governance.permissions import api_scope_required
from governance.signoffs import policy_approvals

router = Router(tags=["editorial"])


@router.get("/queue", operation_id="listQueue", response={200: QueuePage, **errors(422)})
def queue(
    request: HttpRequest, filters: Query[QueueFilters], cursor: str | None = cursor_param(), limit: int = limit_param(),
):
    """The review desk: drafts of your brands, newest first, filtered, a page at a time. The filters are
    the desk's own (the same selector): age is the time waiting in the current status, `q` searches
    titles and current texts (PostgreSQL full-text, English), `assignee=none` means nobody, `sources=changed`
    keeps drafts whose knowledge sources changed since their last approval, `approved_by=policy` those a
    workflow's policy approved without a person (each item names the policy in `approved_by_policy`)."""
    api_scope_required(request, "read")
    chosen = selection.queue_select(user=request.user, tab="all", filters=selection.QueueFilters(
        status=filters.status or "", channel=filters.channel or "", risk=filters.risk or "",
        template=filters.template or "", brand=filters.brand or "", assignee=filters.assignee or "",
        older_than_hours=filters.older_than_hours, newer_than_hours=filters.newer_than_hours,
        q=" ".join((filters.q or "").split()), sources=filters.sources or "", approved_by=filters.approved_by or "",
    ))
    drafts = chosen.drafts.select_related("brief__template", "brief__requested_by", "brand", "assignee")
    page, next_cursor = paginate(drafts, cursor=cursor, limit=limit)
    flags = open_flag_counts([d.pk for d in page])
    policies = policy_approvals([d.pk for d in page])
    items = [
        {
            "id": d.pk, "title": d.title, "status": d.status, "brand": d.brand.slug, "channel": d.brief.channel,
            "risk": d.brief.risk, "template": d.brief.template.slug,
            "assignee": d.assignee.username if d.assignee else None,
            "requested_by": d.brief.requested_by.username, "current_revision_id": d.current_revision_id,
            "publish_at": d.publish_at, "created_at": d.created_at, "status_changed_at": d.status_changed_at,
            "sources_changed": flags.get(d.pk, 0), "approved_by_policy": policies.get(d.pk),
        }
        for d in page
    ]
    return {"items": items, "next_cursor": next_cursor}
