"""Database queries per draft, by pipeline step and by where in the code they come from.

The pipeline's CPU per draft is mostly Django building and PostgreSQL answering queries (see
`benches/batch.py`'s CPU split), so the count per draft is the figure to watch when a step changes.
Real PostgreSQL and Valkey, the zero-latency test model server; the runs are executed in this process
the way a worker does (`run_execute`), after a few warm-up drafts, so per-process caches are warm as
they are in a worker that has been running for a while.

    .venv/bin/python benches/queries.py [--drafts 5] [--top 15]

Prints queries per draft for filing and for each step, the commonest origins, and as its last line one
JSON object. Its own database (`aios_queries` in `var/bench/`); everything is stopped on exit.
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
import traceback
from contextlib import ExitStack
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benches import batch  # noqa: E402

ORDER = ["file", "plan", "retrieve", "write", "check"]
PRODUCT = re.compile(r"/(agents|editorial|governance|aios)/")


def origin() -> str:
    """The innermost product frame that sent the query ("agents/pipeline/runs.py:152 claimed")."""
    for frame in reversed(traceback.extract_stack()[:-3]):
        if PRODUCT.search(frame.filename) and "/tests/" not in frame.filename:
            return f"{frame.filename.split(str(BASE_DIR) + '/')[-1]}:{frame.lineno} {frame.name}"
    return "(outside the product)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drafts", type=int, default=5)
    parser.add_argument("--warm", type=int, default=2, help="drafts written first and not counted")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        world, _env = batch.start(stack, db_name="aios_queries")
        from django.db import connection

        from agents.models import AgentRun
        from agents.pipeline.kinds import run_execute
        from tests.helpers import drive, file_brief

        for i in range(args.warm):
            drive(file_brief(world, title=f"warm-up {i}"))
        per_step: collections.Counter[str] = collections.Counter()
        by_origin: collections.Counter[tuple[str, str]] = collections.Counter()
        current = {"step": "file"}

        def count(execute, sql, params, many, context):
            if not sql.lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
                per_step[current["step"]] += 1
                by_origin[(current["step"], origin())] += 1
            return execute(sql, params, many, context)

        in_review = 0
        started = time.process_time()
        for i in range(args.drafts):
            with connection.execute_wrapper(count):
                current["step"] = "file"
                draft = file_brief(world, title=f"counted {i}")
            for _ in range(20):
                run = AgentRun.objects.filter(draft=draft, status=AgentRun.Status.QUEUED).order_by("id").first()
                if run is None:
                    break
                current["step"] = run.kind
                with connection.execute_wrapper(count):
                    run_execute(run_id=run.pk)
            draft.refresh_from_db()
            in_review += draft.status == "in_review"
        cpu_ms = (time.process_time() - started) * 1000 / args.drafts
    n = args.drafts
    total = sum(per_step.values()) / n
    print(f"{n} drafts (2 sections each) through filing and the four steps, {in_review} reached in review; "
          f"zero-latency test model, {args.warm} warm-up drafts first")
    print(f"  queries per draft: {total:.1f} (this process's CPU per draft, queries and all: {cpu_ms:.0f} ms)")
    for step in ORDER:
        share = per_step[step] / n / total if total else 0
        print(f"    {step:9} {per_step[step] / n:6.1f}  ({share:.0%} of the draft's)")
    print("  commonest origins (queries per draft):")
    for (step, where), c in by_origin.most_common(args.top):
        print(f"    {c / n:5.1f}  {step:9} {where}")
    print(json.dumps({
        "drafts": n, "drafts_in_review": in_review, "queries_per_draft": round(total, 1),
        **{f"queries_per_draft_{step}": round(per_step[step] / n, 1) for step in ORDER},
        "cpu_ms_per_draft_bench_process": round(cpu_ms, 1),
    }))
    return 0 if in_review == n else 1


if __name__ == "__main__":
    sys.exit(main())
