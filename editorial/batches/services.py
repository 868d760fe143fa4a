"""Every write of a batch: create (validated rows only), start or schedule, pause, resume, cancel,
and the feeder that files the next rows' briefs through editorial/briefs.py under the in-flight caps.

The feeder is a chain of `batches.feed` tasks, one tick every AIOS_BULK_FEED_SECONDS while the batch
has rows to file or drafts being written. Each start or resume gives the batch a new feeder token;
a tick that carries an older token stops, so pausing and resuming never doubles the chain. Beat
(`batches.feed_due`) starts scheduled batches and re-kicks a running batch whose chain was lost.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from aios.celery import app
from editorial.batches.estimate import batch_estimate
from editorial.batches.models import Batch, BatchRow
from editorial.batches.parsing import BRIEF_TARGETS, FileRefused, auto_mapping, parse_rows
from editorial.batches.selectors import policy_scheduled_drafts
from editorial.briefs import brief_create
from editorial.models import Draft
from editorial.realtime import push_group
from governance.audit import audit_log
from governance.gates import workflow_for
from governance.permissions import brands_for_user
from governance.publishing.policy import policy_publish_enqueue
from governance.publishing.publish import draft_schedule, draft_unschedule
from governance.signoffs import policy_approvals, policy_approved

FEED_TASK = "batches.feed"
# One lock for every feeder: the in-flight count and the filing that follows are read and done
# with no other feeder in between, so the caps hold across batches and worker machines.
FEED_LOCK = 0x42A7C4
Status = Batch.Status
RowStatus = BatchRow.Status


def batch_group(batch_id: int) -> str:
    return f"batch.{batch_id}"


def check_may_file(*, user: Any, brand: Any) -> None:
    if not user.has_perm("editorial.add_brief") or not brands_for_user(user).filter(pk=brand.pk).exists():
        raise PermissionDenied("You cannot file briefs for this brand.")


@transaction.atomic
def batch_create(
    *, user: Any, brand: Any, template: Any, name: str, channel: str, risk: str, language: str,
    mapping: dict[str, str], defaults: dict[str, str], rows: list[dict[str, Any]], source_name: str = "",
    policy_publish_at: datetime | None = None,
) -> Batch:
    """Store a batch of validated rows, ready to start, with its estimate. Nothing is filed yet.
    `policy_publish_at`: when its drafts approved by policy go out (None: as soon as approved)."""
    check_may_file(user=user, brand=brand)
    check_policy_publish_at(policy_publish_at)
    if template.active_version_id is None:
        raise ValidationError({"template": "This template has no active version yet."})
    if not rows:
        raise ValidationError("The file has no rows.")
    if workflow_for(brand=brand, channel=channel) is None:
        raise ValidationError(f"No review workflow covers {brand} on the {channel} channel; ask an admin to add one.")
    batch = Batch.objects.create(
        brand=brand, template=template, name=name, channel=channel, risk=risk, language=language, mapping=mapping,
        defaults=defaults, source_name=source_name, total=len(rows), created_by=user,
        policy_publish_at=policy_publish_at, estimate=batch_estimate(brand=brand, template=template, channel=channel, rows=rows),
    )
    BatchRow.objects.bulk_create(
        (BatchRow(batch=batch, number=i, values=values) for i, values in enumerate(rows, start=1)), batch_size=500
    )
    audit_log(action="batches.batch.create", obj=batch, user=user,
              data={"rows": len(rows), "mapping": mapping, "source": source_name,
                    **({"policy_publish_at": policy_publish_at.isoformat()} if policy_publish_at else {})})
    return batch


def check_policy_publish_at(when: datetime | None) -> None:
    """A publication time for drafts approved by policy: with its timezone, ahead, within five years
    (what `draft_schedule` accepts)."""
    if when is None:
        return
    if timezone.is_naive(when):
        raise ValidationError({"policy_publish_at": "Give the publication time with its timezone."})
    if when <= timezone.now():
        raise ValidationError({"policy_publish_at": "The publication time must be in the future; without a time, "
                                                    "drafts approved by policy are published at once."})
    if when > timezone.now() + timedelta(days=366 * 5):
        raise ValidationError({"policy_publish_at": "Schedule at most five years ahead."})


def batch_policy_publish_at(draft: Draft) -> datetime | None:
    """The hook governance/publishing/policy.py asks: when a draft of a batch, approved by policy, goes out."""
    return (Batch.objects.filter(rows__draft=draft).values_list("policy_publish_at", flat=True).first())


@transaction.atomic
def batch_policy_publish_at_set(*, user: Any, batch: Batch, policy_publish_at: datetime | None) -> Batch:
    """Change (or clear, with None) when the batch's drafts approved by policy are published, in any
    status of the batch. Drafts the policy already scheduled for the old time move with it: to the new
    time (`draft_schedule`), or, when cleared, their schedule is taken back and the policy's own task
    publishes them at once. Drafts already published stay published; a draft a person scheduled keeps
    that person's time; drafts approved later read the new time. Audited with old, new and the drafts moved."""
    check_may_file(user=user, brand=batch.brand)
    check_policy_publish_at(policy_publish_at)
    locked = _locked(batch)
    old = locked.policy_publish_at
    if old == policy_publish_at:
        return locked
    locked.policy_publish_at = policy_publish_at
    locked.save(update_fields=["policy_publish_at"])
    # Locking the batch's approved drafts waits for a policy publish task that holds one (it read the old
    # time), and then sees the schedule it made; a task that starts later reads the new time. Locked in id
    # order, like every other multi-draft lock.
    approved = list(Draft.objects.select_for_update(of=("self",))
                    .filter(batch_row__batch=locked, status=Draft.Status.APPROVED).order_by("pk"))
    waiting = set(policy_scheduled_drafts(locked).filter(pk__in=[d.pk for d in approved]).values_list("pk", flat=True))
    policies = policy_approvals(sorted(waiting))
    moved = []
    for draft in approved:
        policy = policies.get(draft.pk)
        if draft.pk not in waiting or not policy:
            continue
        if policy_publish_at is None:
            draft_unschedule(draft=draft, user=None, policy=policy)
            policy_publish_enqueue(draft=draft)
        else:
            draft_schedule(draft=draft, user=None, publish_at=policy_publish_at, policy=policy)
        moved.append(draft.pk)
    audit_log(action="batches.batch.policy_publish_at_set", obj=locked, user=user, data={
        "old": old.isoformat() if old else None, "new": policy_publish_at.isoformat() if policy_publish_at else None,
        ("published_now" if policy_publish_at is None else "rescheduled"): moved,
    })
    return locked


class BatchInvalid(Exception):
    """The file cannot be filed: `errors` by row and column (row 0: the file or the mapping)."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]], error_count: int, columns: list[str]) -> None:
        super().__init__(message)
        self.errors, self.error_count, self.columns = errors, error_count, columns


def batch_upload(
    *, user: Any, stream: IO[bytes], fmt: str, brand: Any, template: Any, name: str, channel: str, risk: str,
    language: str, mapping: dict[str, str], defaults: dict[str, str], source_name: str = "",
    policy_publish_at: datetime | None = None,
) -> Batch:
    """Read and validate every row of an uploaded file, then store the batch (ready to start), or
    raise BatchInvalid listing every problem: a bad file stores and files nothing."""
    check_may_file(user=user, brand=brand)
    check_policy_publish_at(policy_publish_at)
    if template.active_version_id is None:
        raise ValidationError({"template": "This template has no active version yet."})
    try:
        parsed = parse_rows(stream, fmt=fmt, schema=template.active_version.variables or {}, mapping=mapping,
                            defaults=defaults)
    except FileRefused as exc:
        raise BatchInvalid(str(exc), errors=[{"row": 0, "column": "", "message": str(exc)}], error_count=1,
                           columns=[]) from exc
    if parsed.error_count:
        rows = {e.row for e in parsed.errors}
        raise BatchInvalid(
            f"{parsed.error_count} problem{'s' if parsed.error_count != 1 else ''} in "
            f"{len(rows)} row{'s' if len(rows) != 1 else ''}; nothing was filed. Fix the file and upload it again.",
            errors=[e.as_dict() for e in parsed.errors], error_count=parsed.error_count, columns=parsed.columns,
        )
    used = auto_mapping([*BRIEF_TARGETS, *(template.active_version.variables or {}).get("properties", {})],
                        parsed.columns, mapping)
    return batch_create(user=user, brand=brand, template=template, name=name or source_name or "Bulk briefs",
                        channel=channel, risk=risk, language=language, mapping=used, defaults=defaults,
                        rows=parsed.rows, source_name=source_name, policy_publish_at=policy_publish_at)


def _locked(batch: Batch) -> Batch:
    return Batch.objects.select_for_update().get(pk=batch.pk)


def _transition(*, user: Any, batch: Batch, allowed: tuple[str, ...], to: str, action: str,
                **fields: Any) -> Batch:
    check_may_file(user=user, brand=batch.brand)
    locked = _locked(batch)
    if locked.status not in allowed:
        raise ValidationError(f"The batch is {locked.get_status_display().lower()}; it cannot be {action}d now.")
    old = locked.status
    locked.status = to
    for key, value in fields.items():
        setattr(locked, key, value)
    locked.save()
    audit_log(action=f"batches.batch.{action}", obj=locked, user=user, data={"old": old, "new": to})
    transaction.on_commit(lambda: push_progress(locked.pk))
    return locked


def _start_feeding(batch: Batch) -> None:
    """In the caller's transaction (batch row locked): a new feeder chain, enqueued on commit."""
    batch.feeder = uuid.uuid4().hex
    batch.fed_at = timezone.now()
    batch.save(update_fields=["feeder", "fed_at"])
    token, pk = batch.feeder, batch.pk
    transaction.on_commit(lambda: app.send_task(FEED_TASK, args=[pk, token], queue=settings.AIOS_BULK_QUEUE))


@transaction.atomic
def batch_start(*, user: Any, batch: Batch, start_at: datetime | None = None) -> Batch:
    """Start now, or at `start_at` (off-peak hours) when that is in the future."""
    if start_at is not None and start_at > timezone.now():
        return _transition(user=user, batch=batch, allowed=(Status.READY, Status.SCHEDULED), to=Status.SCHEDULED,
                           action="schedule", start_at=start_at)
    batch = _transition(user=user, batch=batch, allowed=(Status.READY, Status.SCHEDULED), to=Status.RUNNING,
                        action="start", started_at=timezone.now(), start_at=None)
    _start_feeding(batch)
    return batch


@transaction.atomic
def batch_pause(*, user: Any, batch: Batch) -> Batch:
    """No new briefs are filed; drafts already being written finish."""
    return _transition(user=user, batch=batch, allowed=(Status.RUNNING,), to=Status.PAUSED, action="pause")


@transaction.atomic
def batch_resume(*, user: Any, batch: Batch) -> Batch:
    batch = _transition(user=user, batch=batch, allowed=(Status.PAUSED,), to=Status.RUNNING, action="resume")
    _start_feeding(batch)
    return batch


@transaction.atomic
def batch_cancel(*, user: Any, batch: Batch) -> Batch:
    """Rows not yet filed are cancelled; drafts already filed (finished or being written) are kept."""
    batch = _transition(user=user, batch=batch, allowed=(Status.READY, Status.SCHEDULED, Status.RUNNING, Status.PAUSED),
                        to=Status.CANCELLED, action="cancel", finished_at=timezone.now())
    cancelled = batch.rows.filter(status=RowStatus.PENDING).update(status=RowStatus.CANCELLED)
    audit_log(action="batches.batch.cancel_rows", obj=batch, user=user, data={"rows": cancelled})
    return batch


@transaction.atomic
def batch_start_due() -> list[int]:
    """On beat: start the scheduled batches that are due, and give a running batch whose feeder
    has not ticked for a while (its chain was lost with a worker) a new chain."""
    now = timezone.now()
    kicked = []
    due = Batch.objects.select_for_update(skip_locked=True).filter(
        Q(status=Status.SCHEDULED, start_at__lte=now)
        | Q(status=Status.RUNNING, fed_at__lt=now - timedelta(seconds=max(5, 10 * settings.AIOS_BULK_FEED_SECONDS)))
    )
    for batch in due:
        if batch.status == Status.SCHEDULED:
            old = batch.status
            batch.status, batch.started_at, batch.start_at = Status.RUNNING, now, None
            batch.save(update_fields=["status", "started_at", "start_at"])
            audit_log(action="batches.batch.start", obj=batch, label="schedule", data={"old": old, "new": batch.status})
        _start_feeding(batch)
        kicked.append(batch.pk)
    return kicked


def in_flight(*, brand_id: int | None = None) -> int:
    drafts = Draft.objects.filter(run_queue=settings.AIOS_BULK_QUEUE, status=Draft.Status.GENERATING)
    if brand_id is not None:
        drafts = drafts.filter(brand_id=brand_id)
    return drafts.count()


@transaction.atomic
def batch_feed(*, batch_id: int, token: str) -> bool:
    """One tick: file the next rows while the caps allow; finish the batch when nothing is left.
    Returns whether the chain should tick again."""
    batch = (Batch.objects.select_for_update(of=("self",)).select_related("brand", "template", "created_by")
             .filter(pk=batch_id).first())  # the batch row only: a lock on its brand would block every brief filed
    if batch is None or batch.feeder != token:
        return False
    batch.fed_at = timezone.now()
    batch.save(update_fields=["fed_at"])
    filed = 0
    if batch.status == Status.RUNNING:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FEED_LOCK])
        room = min(settings.AIOS_BULK_MAX_IN_FLIGHT - in_flight(),
                   settings.AIOS_BULK_MAX_IN_FLIGHT_PER_BRAND - in_flight(brand_id=batch.brand_id))
        if room > 0:
            for row in batch.rows.filter(status=RowStatus.PENDING).order_by("number")[:room]:
                filed += _file_row(batch, row)
    counts = batch_counts(batch)
    writing = counts["writing"]
    if batch.status == Status.RUNNING and counts["pending"] == 0 and writing == 0:
        batch.status, batch.finished_at, batch.feeder = Status.FINISHED, timezone.now(), ""
        batch.save(update_fields=["status", "finished_at", "feeder"])
        audit_log(action="batches.batch.finish", obj=batch, label="batch feeder", data={"old": Status.RUNNING,
                                                                                        "new": Status.FINISHED, **counts})
        counts.update(status=batch.status, status_display=batch.get_status_display())
    transaction.on_commit(lambda: push_group(batch_group(batch.pk), "batch.event", counts))
    if batch.status == Status.FINISHED:
        return False
    keep_going = batch.status == Status.RUNNING or writing > 0
    if keep_going:
        transaction.on_commit(lambda: app.send_task(FEED_TASK, args=[batch.pk, token], queue=settings.AIOS_BULK_QUEUE,
                                                    countdown=0 if filed else settings.AIOS_BULK_FEED_SECONDS))
    return keep_going


def _file_row(batch: Batch, row: BatchRow) -> int:
    values = row.values
    try:
        with transaction.atomic():
            draft = brief_create(
                user=batch.created_by, brand=batch.brand, title=values["title"], goal=values["goal"],
                audience=values["audience"], channel=batch.channel, tone=values["tone"], risk=batch.risk,
                template=batch.template, language=batch.language, variables=values.get("variables") or {}, bulk=True,
            )
    except (ValidationError, PermissionDenied) as exc:
        row.status, row.error = RowStatus.REFUSED, "; ".join(getattr(exc, "messages", [str(exc)]))
        row.save(update_fields=["status", "error"])
        return 0
    row.status, row.draft = RowStatus.FILED, draft
    row.save(update_fields=["status", "draft"])
    return 1


def batch_counts(batch: Batch) -> dict[str, Any]:
    """The progress figures every view shows (page, live message, API)."""
    rows = batch.rows.aggregate(
        pending=Count("pk", filter=Q(status=RowStatus.PENDING)),
        cancelled=Count("pk", filter=Q(status=RowStatus.CANCELLED)),
        refused=Count("pk", filter=Q(status=RowStatus.REFUSED)),
        filed=Count("pk", filter=Q(status=RowStatus.FILED)),
        writing=Count("pk", filter=Q(status=RowStatus.FILED, draft__status=Draft.Status.GENERATING)),
        failed=Count("pk", filter=Q(status=RowStatus.FILED, draft__status__in=[Draft.Status.FAILED,
                                                                                Draft.Status.NEEDS_HUMAN])),
        # The sign-off lookup runs only for approved or published rows (PostgreSQL tests the cheap columns first).
        approved_by_policy=Count("pk", filter=Q(
            policy_approved(draft="draft", revision="draft__current_revision"), status=RowStatus.FILED,
            draft__status__in=[Draft.Status.APPROVED, Draft.Status.PUBLISHED])),
    )
    done = rows["filed"] - rows["writing"]
    total = batch.total or 1
    return {"batch": batch.pk, "status": batch.status, "status_display": batch.get_status_display(),
            "total": batch.total, "done": done, "percent": round(100 * done / total), **rows}


def push_progress(batch_id: int) -> None:
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is not None:
        push_group(batch_group(batch_id), "batch.event", batch_counts(batch))
