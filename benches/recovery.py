"""Recovery benchmark: pool processes killed mid-write while several briefs are written at once.

A real worker (prefork, concurrency 2) writes N briefs (default 12, 4 sections each) against the
streaming test server (tests/llm_server.py, slow enough that a kill lands mid-section). Every K
seconds (default 1.5) one of the worker's pool processes is killed with SIGKILL. Celery redelivers its
task (reject-on-worker-lost); the redelivered task finds the run's owner process gone and takes the
run over at once (agents/pipeline/runs.py). The sweeper is not running here (no beat), so every
recovery comes from redelivery. It reports how many drafts reached review, how many failed or need a
human (a lost worker should never use up a run's error attempts), the kills, the takeovers, and how
long drafts took compared with a baseline run of the same briefs without kills, measured first.

    .venv/bin/python benches/recovery.py [--briefs 12] [--every 1.5]

Its own database (`aios_recovery` in `var/bench/`) and Valkey; everything is stopped on exit.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benches import stack as bench  # noqa: E402  (the shared stack start-up)
from benches.stack import say  # noqa: E402

BENCH_VAR = BASE_DIR / "var" / "bench"
DB_NAME = "aios_recovery"


def start(stack: ExitStack) -> tuple[Any, dict[str, str]]:
    llm = bench.test_llm(stack, tokens_per_second=40, tokens_per_reply=20)  # 0.5 s a section
    db = bench.database(stack, var_dir=BENCH_VAR, db_name=DB_NAME)
    env = bench.settings_env(db.url, REDIS_URL=bench.valkey(stack), AIOS_LLM_BASE_URL=llm.base_url,
                             AIOS_LLM_MODEL="test-model", AIOS_LLM_MODE="completion", AIOS_EMBEDDINGS=llm.base_url,
                             AIOS_STREAM_FLUSH_SECONDS="0.02")
    bench.migrate(env, log_path=BENCH_VAR / "recovery-migrate.log")
    bench.django_setup(stack, env)
    from tests.factories import build_world

    world = build_world(sections=4)
    worker = bench.worker(stack, env, log_path=BENCH_VAR / "recovery-worker.log")
    bench.ready(env, worker_proc=worker)
    return world, {"worker_pid": str(worker.pid)}


def pool_children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=False)]
    except psutil.NoSuchProcess:
        return []


def write_batch(world: Any, count: int, *, label: str, kill_every: float | None, worker_pid: int,
                timeout: float) -> dict[str, Any]:
    from agents.models import AgentRun
    from editorial.models import Draft
    from tests.helpers import file_brief

    started = time.monotonic()
    # Titles of their own: the same prompts again would be answered from the prompt cache.
    drafts = [file_brief(world, title=f"{label} brief {i}") for i in range(count)]
    ids = [d.pk for d in drafts]
    kills, next_kill = 0, started + (kill_every or 0)
    while time.monotonic() - started < timeout:
        waiting = Draft.objects.filter(pk__in=ids, status=Draft.Status.GENERATING).count()
        if not waiting:
            break
        if kill_every and time.monotonic() >= next_kill:
            children = pool_children(worker_pid)
            if children:
                os.kill(random.choice(children), signal.SIGKILL)
                kills += 1
            next_kill = time.monotonic() + kill_every
        time.sleep(0.05)
    wall = time.monotonic() - started
    statuses = list(Draft.objects.filter(pk__in=ids).values_list("status", flat=True))
    runs = AgentRun.objects.filter(draft_id__in=ids)
    takeovers = sum(max(0, r.attempt_count - 1 - r.error_count) for r in runs)
    spans = [(d.status_changed_at - d.created_at).total_seconds() for d in Draft.objects.filter(pk__in=ids)]
    return {"wall_s": wall, "kills": kills, "takeovers": takeovers, "statuses": statuses,
            "in_review": statuses.count(Draft.Status.IN_REVIEW),
            "failed": statuses.count(Draft.Status.FAILED) + statuses.count(Draft.Status.NEEDS_HUMAN),
            "still_generating": statuses.count(Draft.Status.GENERATING),
            "draft_s_median": statistics.median(spans) if spans else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--briefs", type=int, default=12)
    parser.add_argument("--every", type=float, default=1.5, help="seconds between kills")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    random.seed(7)
    return bench.run_bench(lambda: measure(args), lambda results: report(args, *results))


def measure(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    with ExitStack() as stack:
        world, info = start(stack)
        worker_pid = int(info["worker_pid"])
        say("baseline: the same briefs, no kills")
        base = write_batch(world, args.briefs, label="Calm", kill_every=None, worker_pid=worker_pid,
                           timeout=args.timeout)
        say(f"with a pool process killed every {args.every} s")
        hurt = write_batch(world, args.briefs, label="Stormy", kill_every=args.every, worker_pid=worker_pid,
                           timeout=args.timeout)
    return base, hurt


def report(args: argparse.Namespace, base: dict[str, Any], hurt: dict[str, Any]) -> None:
    print(f"{args.briefs} briefs at once, 4 sections each, worker concurrency 2, test server 40 tokens/s")
    print(f"  baseline:  {base['in_review']} in review, {base['failed']} failed, wall {base['wall_s']:.1f} s, "
          f"median brief → review {base['draft_s_median']:.1f} s")
    print(f"  with kills: {hurt['kills']} SIGKILLs of pool processes, {hurt['takeovers']} takeovers; "
          f"{hurt['in_review']} in review, {hurt['failed']} failed or needing a human, "
          f"{hurt['still_generating']} still generating; wall {hurt['wall_s']:.1f} s "
          f"(×{hurt['wall_s'] / base['wall_s']:.2f} of baseline), median brief → review {hurt['draft_s_median']:.1f} s")
    print(json.dumps({"briefs": args.briefs, "kills": hurt["kills"], "takeovers": hurt["takeovers"],
                      "in_review": hurt["in_review"], "failed_or_needs_human": hurt["failed"],
                      "still_generating": hurt["still_generating"], "baseline_wall_s": round(base["wall_s"], 1),
                      "wall_s": round(hurt["wall_s"], 1), "wall_ratio": round(hurt["wall_s"] / base["wall_s"], 2)}))


if __name__ == "__main__":
    sys.exit(main())
