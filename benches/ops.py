"""Operations benchmark: the cost of a Prometheus scrape of GET /metrics as the run history grows,
and the throughput of the reviewer-corrections export.

1. **Scrape.** Seeds agent runs in two steps: a small history (`--small` runs), then a large one
   (`--large`, default 1,000,000), each with a few hundred runs in flight and finished in the last
   minutes. At each size it times the whole scrape in-process (Django test client, bearer token:
   middleware, the broker's queue lengths from a real Valkey, every aggregate query) and counts its
   SQL queries. The baseline, measured in the same run on the same data, is what the scrape would
   cost if it counted runs over the whole history (`GROUP BY kind, status` on the table), as a
   counter-per-status collector without the (status, finished_at) index must.
2. **Corrections export.** Files `--drafts` approved drafts through the services (agent revision of
   three sections with personal data, an editor's revision, a sign-off), then streams the JSONL export
   of the brand and reports lines per second and queries per 200 drafts; the baseline is reading the
   same revisions' texts alone (no pairing, no masking).

Data lives in embedded PostgreSQL under `var/bench-ops/pgdata` (database `aios_ops`, re-created each
run) and a private Valkey. Run from the repository root:

    .venv/bin/python benches/ops.py [--small 10000] [--large 1000000] [--drafts 1000] [--runs 30]

Progress goes to stderr; stdout gets the readable report and, as its last line, one JSON object.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benches import stack as bench  # noqa: E402  (the shared stack start-up)
from benches.stack import percentile, say  # noqa: E402

BENCH_VAR = BASE_DIR / "var" / "bench-ops"
DB_NAME = "aios_ops"
TOKEN = "bench-scrape-token"
IN_FLIGHT = 200  # runs queued or running at any time
RECENT = 300  # runs finished within the metrics window


def start_services(stack: ExitStack) -> dict[str, str]:
    db = bench.database(stack, var_dir=BENCH_VAR, db_name=DB_NAME)
    env = bench.settings_env(db.url, REDIS_URL=bench.valkey(stack), AIOS_METRICS_TOKEN=TOKEN,
                             AIOS_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    bench.migrate(env, log_path=BENCH_VAR / "migrate.log")
    return env


def seed_runs(draft_id: int, *, total: int, start: int) -> float:
    """Runs numbered start..total-1 on one draft, finished days ago, except the newest IN_FLIGHT (queued
    or running) and RECENT (finished a minute ago, some failed): a live system's in-flight work does not
    grow with its history. Earlier in-flight runs finish first. One INSERT … SELECT generate_series."""
    from django.db import connection

    t0 = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE agents_agentrun SET status = 'succeeded', finished_at = now() - interval '2 days' "
                       "WHERE status IN ('queued', 'running') OR finished_at > now() - interval '1 day'")
        cursor.execute("""
            INSERT INTO agents_agentrun (draft_id, kind, status, attempt_count, error_count, claimed_by,
                idempotency_key, model_name, input, prompt_hash, sources, output, tokens_in, tokens_out, cost,
                reserved_cost, cache_hits, error, created_at, finished_at)
            SELECT %(draft)s, (ARRAY['plan','retrieve','write','check'])[1 + g %% 4],
                   CASE WHEN g > %(total)s - %(in_flight)s THEN (ARRAY['queued','running'])[1 + g %% 2]
                        WHEN g > %(total)s - %(in_flight)s - %(recent)s AND g %% 5 = 0 THEN 'failed'
                        ELSE 'succeeded' END,
                   1, 0, '', 'bench:' || g, 'm', '{}', '', '[]', '{}', 10, 20, 0, 0, 0, '',
                   now() - make_interval(secs => %(total)s - g),
                   CASE WHEN g > %(total)s - %(in_flight)s THEN NULL
                        WHEN g > %(total)s - %(in_flight)s - %(recent)s THEN now() - interval '1 minute'
                        ELSE now() - interval '2 days' - make_interval(secs => %(total)s - g) END
            FROM generate_series(%(start)s, %(total)s - 1) AS g
        """, {"draft": draft_id, "start": start, "total": total, "in_flight": IN_FLIGHT, "recent": RECENT})
        cursor.execute("ANALYZE agents_agentrun")
    return time.monotonic() - t0


def measure_scrape(client: Any, runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return {"times": times, "queries": len(queries)}


def measure_full_count(runs: int) -> list[float]:
    """The baseline: runs by kind and status over the whole history."""
    from django.db.models import Count

    from agents.models import AgentRun

    times = []
    for _ in range(max(5, runs // 3)):
        t0 = time.perf_counter()
        list(AgentRun.objects.values("kind", "status").annotate(n=Count("id")).order_by())
        times.append((time.perf_counter() - t0) * 1000)
    return times


AGENT = ("## Back for the season\n\nRoast no. {i} is guaranteed to delight; write to jane{i}@example.com.\n\n"
         "## How it tastes\n\nNotes of cherry and cocoa, with a long finish, batch {i}.\n\n"
         "## Where to buy\n\nCall +1 212 555 0100 or visit {i} Market Street, Springfield.")


def seed_corrections(world: Any, drafts: int) -> float:
    from editorial.models import Draft
    from editorial.revisions import revision_create
    from governance.signoffs import signoff_record
    from tests.helpers import draft_in_review

    t0 = time.monotonic()
    for i in range(drafts):
        # Every draft's text its own (no two alike); the editor changes one section of three.
        draft = draft_in_review(world, content=AGENT.format(i=i))
        revision_create(draft=draft, content=AGENT.format(i=i).replace("guaranteed", "designed"),
                        author_user=world.editor, parent=draft.current_revision)
        draft = Draft.objects.get(pk=draft.pk)
        signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                       revision_id=draft.current_revision_id)
        if i and i % 250 == 0:
            say(f"  {i} approved drafts")
    return time.monotonic() - t0


def measure_export(world: Any) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from editorial.corrections import CorrectionFilters, corrections_export
    from editorial.models import Revision

    filters = CorrectionFilters(brands=(world.brand,))
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        lines = sum(1 for _ in corrections_export(user=world.editor, filters=filters))
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    texts = sum(len(c) for c in Revision.objects.filter(draft__brand=world.brand).values_list("content", flat=True)
                .iterator(chunk_size=2000))
    baseline = time.perf_counter() - t0
    return {"lines": lines, "seconds": seconds, "queries": len(queries), "baseline_seconds": baseline,
            "chars": texts}


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    with ExitStack() as stack:
        bench.django_setup(stack, start_services(stack))
        from django.conf import settings
        from django.contrib.auth.models import Permission
        from django.test import Client

        settings.DEBUG = False
        from tests.factories import build_world
        from tests.helpers import draft_in_review

        world = build_world()
        holder = draft_in_review(world)
        client = Client()
        result: dict[str, Any] = {"sizes": []}
        done = 0
        for size in (args.small, args.large):
            say(f"seeding runs up to {size:,}")
            seconds = seed_runs(holder.pk, total=size + 1, start=done + 1)
            done = size
            scrape = measure_scrape(client, args.runs)
            baseline = measure_full_count(args.runs)
            result["sizes"].append({"runs": size, "seed_s": seconds, **scrape, "baseline": baseline})
            say(f"  scrape p95 {percentile(scrape['times'], 95):.1f} ms, full count p95 "
                f"{percentile(baseline, 95):.1f} ms")
        world.editor.user_permissions.add(Permission.objects.get(codename="export_corrections"))
        say(f"filing {args.drafts:,} approved drafts")
        result["corrections_seed_s"] = seed_corrections(world, args.drafts)
        result["export"] = measure_export(world)
        result["drafts"] = args.drafts
    result["elapsed"] = time.monotonic() - started
    result["load"] = os.getloadavg()[0]
    return result


def report(r: dict[str, Any], runs: int) -> None:
    small, large = r["sizes"]
    print(f"operations benchmark ({runs} timed scrapes per size, in-process, real PostgreSQL and Valkey)")
    print(f"  {'agent runs':>12} {'scrape p50':>11} {'scrape p95':>11} {'queries':>8} {'full-count p95':>15}")
    for s in r["sizes"]:
        print(f"  {s['runs']:>12,} {percentile(s['times'], 50):>8.1f} ms {percentile(s['times'], 95):>8.1f} ms "
              f"{s['queries']:>8} {percentile(s['baseline'], 95):>12.1f} ms")
    growth = percentile(large["times"], 95) / percentile(small["times"], 95)
    base_growth = percentile(large["baseline"], 95) / percentile(small["baseline"], 95)
    versus = percentile(large["baseline"], 95) / percentile(large["times"], 95)
    print(f"  {large['runs'] // small['runs']}× the history: the scrape's p95 × {growth:.2f}, a whole-history "
          f"count's × {base_growth:.1f}; at {large['runs']:,} runs the whole-history count alone costs "
          f"{versus:.1f}× the entire scrape")
    e = r["export"]
    rate = e["lines"] / e["seconds"] if e["seconds"] else math.nan
    print(f"  corrections export: {r['drafts']:,} approved drafts → {e['lines']:,} JSONL lines in {e['seconds']:.2f} s "
          f"({rate:,.0f} lines/s, {e['queries']} queries, {e['queries'] / max(1, math.ceil(r['drafts'] / 200)):.1f} "
          f"per 200 drafts); reading the same texts alone {e['baseline_seconds']:.2f} s "
          f"(export = {e['seconds'] / e['baseline_seconds']:.1f}× that: pairing and personal-data masking)")
    print(f"  whole run {r['elapsed']:.0f} s; load average {r['load']:.2f} on {os.cpu_count()} CPUs")
    print(json.dumps({
        "runs_small": small["runs"], "runs_large": large["runs"],
        "scrape_small_p95_ms": round(percentile(small["times"], 95), 1),
        "scrape_large_p95_ms": round(percentile(large["times"], 95), 1),
        "scrape_queries_small": small["queries"], "scrape_queries_large": large["queries"],
        "full_count_large_p95_ms": round(percentile(large["baseline"], 95), 1),
        "scrape_growth_ratio": round(growth, 2),
        "export_lines": e["lines"], "export_lines_per_s": round(rate, 0), "export_queries": e["queries"],
        "export_s": round(e["seconds"], 2), "export_baseline_read_s": round(e["baseline_seconds"], 2),
        "elapsed_s": round(r["elapsed"], 1),
    }), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--drafts", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    return bench.run_bench(lambda: run(args), lambda results: report(results, args.runs))


if __name__ == "__main__":
    sys.exit(main())
