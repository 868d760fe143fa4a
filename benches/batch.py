"""Bulk briefs on the real stack: throughput per worker process, interactive latency during a batch,
memory per process.

Real PostgreSQL and Valkey, real Celery workers started with `python3 -m aios.launcher worker`
(each with its own --hostname, as separate "machines" on the same database and broker), and the
zero-latency streaming test server (tests/llm_server.py, tokens_per_second=0), so what is measured
is AIOS itself: filing, the four pipeline steps, checks, revisions, audit.

1. idle: interactive briefs filed one at a time with nothing else running; delay from filing to the
   write step's first token (run.started_at + ttft).
2. one worker process (pool of --concurrency): a batch of --rows rows, briefs → drafts per minute;
   meanwhile an interactive brief every --every seconds, same delay.
3. two worker processes (machine-a, machine-b), another batch of the same size.
Peak RSS of every worker process (main + pool) is sampled throughout, with the RSS at a quarter of
each batch against the end ("flat" means the end is within 20 % of the quarter mark).

    .venv/bin/python benches/batch.py [--rows 1000] [--concurrency 2] [--every 2]

Its own database (`aios_batch` in `var/bench/`) and Valkey; everything is stopped on exit.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benches import stack as bench  # noqa: E402
from benches.stack import say  # noqa: E402

BENCH_VAR = BASE_DIR / "var" / "bench"
DB_NAME = "aios_batch"
WORKER = "import sys; from aios.launcher import worker; sys.exit(worker(sys.argv[1:]))"


def start(stack: ExitStack, *, db_name: str = DB_NAME) -> tuple[Any, dict[str, str]]:
    db = bench.database(stack, var_dir=BENCH_VAR, db_name=db_name)
    redis_url = bench.valkey(stack)
    llm = bench.test_llm(stack, tokens_per_second=0, tokens_per_reply=24)
    env = bench.settings_env(
        db.url, REDIS_URL=redis_url, AIOS_LLM_BASE_URL=llm.base_url, AIOS_LLM_MODEL="test-model",
        AIOS_LLM_MODE="completion", AIOS_EMBEDDINGS=llm.base_url, AIOS_STREAM_FLUSH_SECONDS="0.02",
        AIOS_VAR=str(BENCH_VAR),
        # The bench's own prompts repeat: keep the prompt cache from answering instead of the pipeline.
        AIOS_PROMPT_CACHE="0",
    )
    bench.migrate(env, log_path=BENCH_VAR / "batch-migrate.log")
    bench.django_setup(stack, env)
    from tests.factories import build_world

    return build_world(sections=2), bench.child_env(env)


class Workers:
    """Worker processes started through the launcher's worker command, with an RSS sampler."""

    def __init__(self, stack: ExitStack, env: dict[str, str], names: list[str], concurrency: int) -> None:
        from aios import devstack

        self.procs = {}
        for name in names:
            log = stack.enter_context(open(BENCH_VAR / f"batch-worker-{name}.log", "wb"))
            proc = devstack.spawn([sys.executable, "-c", WORKER, "--hostname", f"{name}@bench",
                                   "--concurrency", str(concurrency)], env=env, log=log)
            stack.callback(devstack.stop, proc)
            self.procs[name] = proc
        for proc in self.procs.values():
            devstack.wait_celery_worker(env, proc=proc, timeout=90)
        self.peak: dict[str, int] = {}
        self.samples: list[tuple[float, int]] = []  # (time, total RSS)
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(0.5):
            total = 0
            for name, proc in self.procs.items():
                try:
                    main = psutil.Process(proc.pid)
                    members = [("main", main)] + [(f"pool{i}", c) for i, c in enumerate(main.children())]
                    for role, p in members:
                        rss = p.memory_info().rss
                        key = f"{name}.{role}"
                        self.peak[key] = max(self.peak.get(key, 0), rss)
                        total += rss
                except psutil.NoSuchProcess:
                    continue
            self.samples.append((time.monotonic(), total))

    def rss_at(self, when: float) -> int:
        before = [rss for t, rss in self.samples if t <= when]
        return before[-1] if before else 0

    def stop(self) -> None:
        from aios import devstack

        self._stop.set()
        devstack.stop_all(list(self.procs.values()))


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far by each part of the stack: this bench's PostgreSQL
    (postmaster and backends), Valkey, the Celery workers (main and pool), and this bench process,
    which also hosts the test model server's threads."""
    import psutil

    def used(proc: Any, *, reaped: bool = False) -> float:
        # `reaped`: with what its children that already exited used (PostgreSQL's closed backends).
        try:
            times = proc.cpu_times()
            return times.user + times.system + (times.children_user + times.children_system if reaped else 0)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return 0.0

    me = psutil.Process()
    totals = {"postgres": 0.0, "valkey": 0.0, "workers": 0.0, "bench_and_model_server": used(me)}
    for child in me.children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        part = "valkey" if "valkey" in cmd else "workers" if "worker" in cmd else None
        if part:
            totals[part] += used(child)
    pgdata = str(BENCH_VAR / "pgdata")
    for proc in psutil.process_iter(["cmdline"]):
        if pgdata in " ".join(proc.info["cmdline"] or []):
            totals["postgres"] += used(proc, reaped=True) + sum(used(c) for c in proc.children())
    return totals


def first_token_delay_ms(draft_id: int, timeout: float = 120) -> float | None:
    from agents.models import AgentRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = (AgentRun.objects.filter(draft_id=draft_id, kind=AgentRun.Kind.WRITE, ttft_ms__isnull=False)
               .select_related("draft").first())
        if run is not None and run.started_at:
            return (run.started_at - run.draft.created_at).total_seconds() * 1000 + run.ttft_ms
        time.sleep(0.05)
    return None


def interactive(world: Any, label: str, n: int) -> str:
    from tests.helpers import file_brief

    return file_brief(world, title=f"{label} interactive {n}").pk


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def idle_delays(world: Any, count: int) -> list[float]:
    delays = []
    for i in range(count):
        delay = first_token_delay_ms(interactive(world, "Idle", i))
        if delay is not None:
            delays.append(delay)
        time.sleep(0.2)
    return delays


def run_batch(world: Any, workers: Workers, *, rows: int, label: str, every: float, timeout: float) -> dict[str, Any]:
    from editorial.batches import services
    from editorial.batches.models import Batch
    from editorial.models import Draft

    text = "sku,name,features\n" + "".join(f"{label}-{i},{label} product {i},feature {i}\n" for i in range(rows))
    batch = services.batch_upload(
        user=world.requester, stream=io.BytesIO(text.encode()), fmt="csv", brand=world.brand, template=world.template,
        name=label, channel="product", risk="low", language="en", mapping={"title": "name"},
        defaults={"goal": "Describe {name}: {features}", "audience": "shoppers", "tone": "warm"},
    )
    cpu_before = cpu_seconds()
    started = time.monotonic()
    services.batch_start(user=world.requester, batch=batch)
    delays, pending, n, next_probe = [], [], 0, started + every
    quarter_at = None
    while time.monotonic() - started < timeout:
        state = Batch.objects.filter(pk=batch.pk).values_list("status", flat=True).first()
        if state == Batch.Status.FINISHED:
            break
        if time.monotonic() >= next_probe:
            pending.append(interactive(world, label, n))
            n += 1
            next_probe = time.monotonic() + every
        done = Draft.objects.filter(batch_row__batch=batch).exclude(status=Draft.Status.GENERATING).count()
        if quarter_at is None and done >= rows / 4:
            quarter_at = time.monotonic()
        time.sleep(0.25)
    wall = time.monotonic() - started
    cpu_after = cpu_seconds()
    for draft_id in pending:
        delay = first_token_delay_ms(draft_id, timeout=60)
        if delay is not None:
            delays.append(delay)
    in_review = Draft.objects.filter(batch_row__batch=batch, status=Draft.Status.IN_REVIEW).count()
    cpu_ms = {part: (cpu_after[part] - cpu_before[part]) * 1000 / max(in_review, 1) for part in cpu_after}
    return {"wall_s": wall, "per_min": in_review / wall * 60, "in_review": in_review, "delays": delays, "cpu_ms": cpu_ms,
            "rss_quarter": workers.rss_at(quarter_at or started), "rss_end": workers.rss_at(time.monotonic())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker process")
    parser.add_argument("--every", type=float, default=2.0, help="seconds between interactive briefs")
    parser.add_argument("--idle", type=int, default=10, help="interactive briefs measured on an idle system")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    mb = 1024 * 1024
    with ExitStack() as stack:
        world, env = start(stack)
        one = Workers(stack, env, ["machine-a"], args.concurrency)
        say(f"idle: {args.idle} interactive briefs")
        idle = idle_delays(world, args.idle)
        say(f"one worker process: {args.rows} rows")
        single = run_batch(world, one, rows=args.rows, label="One", every=args.every, timeout=args.timeout)
        peak_one = dict(one.peak)
        one.stop()
        two = Workers(stack, env, ["machine-a", "machine-b"], args.concurrency)
        say(f"two worker processes: {args.rows} rows")
        double = run_batch(world, two, rows=args.rows, label="Two", every=args.every, timeout=args.timeout)
        peak_two = dict(two.peak)
        two.stop()
    idle_p95 = p95(idle)
    cores = os.cpu_count()
    print(f"{args.rows} bulk briefs (2 sections each), zero-latency test model, {cores} cores, "
          f"pool of {args.concurrency} per worker process")
    for name, r in (("one worker process", single), ("two worker processes", double)):
        ratio = p95(r["delays"]) / idle_p95 if idle_p95 else float("nan")
        flat = r["rss_end"] <= 1.2 * r["rss_quarter"] if r["rss_quarter"] else None
        print(f"  {name}: {r['in_review']}/{args.rows} drafts in review in {r['wall_s']:.1f} s = "
              f"{r['per_min']:.0f} drafts/min; interactive first-token p95 {p95(r['delays']):.0f} ms over "
              f"{len(r['delays'])} briefs (×{ratio:.2f} of idle); worker RSS {r['rss_quarter'] / mb:.0f} MB at a "
              f"quarter → {r['rss_end'] / mb:.0f} MB at the end ({'flat' if flat else 'growing'})")
        print(f"    CPU per draft: {sum(r['cpu_ms'].values()):.0f} ms = "
              + ", ".join(f"{part} {ms:.0f} ms" for part, ms in r["cpu_ms"].items()))
    print(f"  idle: interactive first-token p95 {idle_p95:.0f} ms over {len(idle)} briefs")
    print("  peak RSS per process, one worker: " + ", ".join(f"{k} {v / mb:.0f} MB" for k, v in sorted(peak_one.items())))
    print("  peak RSS per process, two workers: " + ", ".join(f"{k} {v / mb:.0f} MB" for k, v in sorted(peak_two.items())))
    print(f"  goals: ≥ 600 drafts/min ({'met' if double['per_min'] >= 600 else 'missed'}), interactive delay "
          f"during a batch ≤ 2× idle ({'met' if p95(single['delays']) <= 2 * idle_p95 else 'missed'})")
    print(json.dumps({
        "rows": args.rows, "drafts_per_min_one_worker": round(single["per_min"], 1),
        "drafts_per_min_two_workers": round(double["per_min"], 1),
        "interactive_first_token_p95_ms_idle": round(idle_p95, 1),
        "interactive_first_token_p95_ms_one_worker_batch": round(p95(single["delays"]), 1),
        "interactive_first_token_p95_ms_two_worker_batch": round(p95(double["delays"]), 1),
        "peak_rss_mb_max_process": round(max([*peak_one.values(), *peak_two.values()]) / mb, 1),
        "rss_mb_quarter_one_worker": round(single["rss_quarter"] / mb, 1),
        "rss_mb_end_one_worker": round(single["rss_end"] / mb, 1),
        "cpu_ms_per_draft_one_worker": round(sum(single["cpu_ms"].values()), 1),
        **{f"cpu_ms_per_draft_{part}": round(ms, 1) for part, ms in single["cpu_ms"].items()},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
