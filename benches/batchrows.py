"""Batch rows benchmark: what the batch page's live rows card costs on a 2,000-row batch.

The rows card is refreshed by the browser (at most once every 1.5 s, when the feeder's progress push
moves), so the worker does nothing more per tick: no extra query, no extra group_send. What the live
table costs is this request, per watching browser. It is measured against the progress figures
(`progress.json`: the same aggregate the feeder already runs and pushes every tick), in the same run.

Data (deterministic): build_world()'s users, brands and workflow; `--batches` batches of `--rows`
rows each (default 10 × 2,000), every row of the measured batch with a brief and draft in a mix of
states (in review, published, approved, needs a human with a reason, failed, being written, waiting,
refused), a fifth of the published ones approved by policy (a sign-off naming the policy).

Measured in-process with Django's test `Client` signed in as the requester ("rita"), whole request
(middleware, selector, template), p50/p95 over `--runs` requests after warm-ups, and SQL queries:
the progress figures (baseline), the rows card (all rows, page 1; the "Failed" filter; the "In review"
filter page 10; the last page of all rows) and the whole batch page.

The database lives in embedded PostgreSQL under `var/bench-batchrows/pgdata` (database
`aios_batchrows`, re-created each run).

    .venv/bin/python benches/batchrows.py [--batches 10] [--rows 2000] [--runs 60]

Progress goes to stderr; stdout gets the readable report and, as its last line, one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benches import desk  # noqa: E402  (the desk bench's database start)
from benches import stack as bench  # noqa: E402  (the shared stack start-up)
from benches.stack import percentile, say  # noqa: E402

BENCH_VAR = BASE_DIR / "var" / "bench-batchrows"
DB_NAME = "aios_batchrows"
# (share of rows, draft status or None for a row without a draft, row status, reason)
MIX = [
    (0.40, "in_review", "filed", ""),
    (0.20, "published", "filed", ""),
    (0.05, "approved", "filed", ""),
    (0.02, "needs_human", "filed", "Section 2 kept repeating itself after 3 tries."),
    (0.01, "failed", "filed", "The model server did not answer."),
    (0.02, "generating", "filed", ""),
    (0.295, None, "pending", ""),
    (0.005, None, "refused", "No review workflow covers this channel."),
]


def seed(world: Any, *, batches: int, rows: int) -> Any:
    """`batches` batches of `rows` rows; returns the first (the measured one, every row in MIX)."""
    from django.db import transaction

    from editorial.batches.models import Batch, BatchRow
    from editorial.models import Brief, Draft
    from editorial.revisions import revision_create
    from governance.models import SignOff

    measured = None
    for b in range(batches):
        with transaction.atomic():
            batch = Batch.objects.create(
                brand=world.brand, template=world.template, name=f"Products {b + 1}", channel="product", risk="low",
                mapping={"title": "name"}, total=rows, created_by=world.requester, status=Batch.Status.RUNNING,
            )
            briefs = Brief.objects.bulk_create([
                Brief(brand=world.brand, title=f"Kettle {b}-{i}", goal="Describe it", audience="home baristas",
                      channel="product", tone="warm", template=world.template, requested_by=world.requester)
                for i in range(rows)
            ], batch_size=1000)
            states: list[tuple[str | None, str, str]] = []
            for share, draft_status, row_status, reason in MIX:
                states += [(draft_status, row_status, reason)] * round(share * rows)
            states = (states + [(None, "pending", "")] * rows)[:rows]
            drafts = Draft.objects.bulk_create([
                Draft(brief=brief, brand=world.brand, title=brief.title, status=status or "generating",
                      status_reason=reason, run_queue="bulk")
                for brief, (status, _, reason) in zip(briefs, states)
            ], batch_size=1000)
            BatchRow.objects.bulk_create([
                BatchRow(batch=batch, number=i + 1, values={"title": brief.title}, status=row_status,
                         draft=draft if status else None, error=reason if row_status == "refused" else "")
                for i, (brief, draft, (status, row_status, reason)) in enumerate(zip(briefs, drafts, states))
            ], batch_size=1000)
            if b == 0:
                measured = batch
                published = [d for d, (s, _, _) in zip(drafts, states) if s == "published"][::5]
                for draft in published:
                    revision = revision_create(draft=draft, content="## Part 1\nA kettle.", author_user=world.editor)
                    SignOff.objects.create(draft=draft, revision=revision, gate=world.gates["editorial"],
                                           policy="Low-risk products", decision=SignOff.Decision.APPROVE)
        say(f"  batch {b + 1}/{batches} seeded")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return measured


def measure(client: Any, url: str, runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return {"p50": percentile(times, 50), "p95": percentile(times, 95), "queries": len(queries.captured_queries)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    with ExitStack() as stack:
        env, _ = desk.start_database(stack, reuse=False, var_dir=BENCH_VAR, db_name=DB_NAME)
        bench.django_setup(stack, env)
        from django.conf import settings

        settings.DEBUG = False
        settings.ALLOWED_HOSTS = ["*"]
        from django.test import Client
        from django.urls import reverse

        from tests.factories import PASSWORD, build_world

        world = build_world()
        say(f"seeding {args.batches} batches of {args.rows:,} rows")
        batch = seed(world, batches=args.batches, rows=args.rows)
        client = Client()
        assert client.login(username="rita", password=PASSWORD)
        rows = reverse("batches:rows", args=[batch.pk])
        pages = -(-args.rows // 50)
        cases = {
            "progress figures (baseline)": reverse("batches:progress", args=[batch.pk]),
            "rows card: all, page 1": rows,
            "rows card: failed": rows + "?state=failed",
            "rows card: in review, page 10": rows + "?state=review&page=10",
            f"rows card: all, page {pages} (last)": rows + f"?page={pages}",
            "whole batch page": reverse("batches:detail", args=[batch.pk]),
        }
        results = {}
        for name, url in cases.items():
            say(f"measuring {name}")
            results[name] = measure(client, url, args.runs)
    return {"results": results, "rows": args.rows, "batches": args.batches, "runs": args.runs,
            "elapsed": time.monotonic() - started}


def report(r: dict[str, Any]) -> None:
    res = r["results"]
    base = res["progress figures (baseline)"]
    print(f"Batch rows card on a {r['rows']:,}-row batch ({r['batches']} batches, "
          f"{r['batches'] * r['rows']:,} rows in all), {r['runs']} requests each, in-process, whole request")
    print(f"{'request':34} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'p95 vs baseline':>16}")
    for name, m in res.items():
        print(f"{name:34} {m['p50']:8.1f} {m['p95']:8.1f} {m['queries']:8d} {m['p95'] / base['p95']:15.2f}×")
    print("Worker side: the rows card adds no query and no group_send to a feeder tick (the browser asks,")
    print("at most once every 1.5 s, when the pushed figures move).")
    print(f"elapsed {r['elapsed']:.0f} s")
    card = res["rows card: all, page 1"]
    print(json.dumps({
        "progress_p95_ms": round(base["p95"], 1),
        "rows_card_p50_ms": round(card["p50"], 1),
        "rows_card_p95_ms": round(card["p95"], 1),
        "rows_failed_p95_ms": round(res["rows card: failed"]["p95"], 1),
        "rows_card_queries": card["queries"],
        "rows_card_vs_progress_p95_ratio": round(card["p95"] / base["p95"], 2),
        "rows_per_batch": r["rows"],
    }))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args(argv)
    return bench.run_bench(lambda: run(args), report)


if __name__ == "__main__":
    sys.exit(main())
