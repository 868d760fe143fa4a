"""Quality benchmark on the real default stack: what a team gets when several briefs arrive at once.

It starts the stack the README's run command starts, privately: embedded PostgreSQL + pgvector
(database `aios_quality` in `var/bench/`, re-created each run), embedded Valkey, llama.cpp's
OpenAI-compatible server with the packaged Gemma 3 270M (started as the launcher starts it,
`aios.devstack.llama_args`), a Celery worker (concurrency 2) and uvicorn; it loads the demo
workspace (`seed_demo`: its templates, knowledge and people). Then it

1. files N briefs (default 8: mixed channels, both demo templates) **at once** through
   `POST /api/v1/briefs` with an API token, and waits until every draft is in review, needs a human,
   or failed;
2. applies the acceptance check (agents/pipeline/acceptance.py, whose definition of a usable section
   is printed first) to every section of every draft that reached review;
3. reports the usable-section rate of drafts in review, the share of drafts in review without a
   human, tries per section, why sections were rejected, wall time and drafts per minute;
4. sends the same section prompts (as rendered for the accepted tries) straight to the same
   llama.cpp server, one after another, and compares tokens/s through AIOS with that bare figure.
   AIOS's figure is tokens generated (every try) over the time its sections spent generating.

    .venv/bin/python benches/quality.py [--briefs 8] [--timeout 1800]

Progress goes to stderr; stdout gets the report and, as its last line, one JSON object.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from aios import devstack  # noqa: E402
from benches import stack as bench  # noqa: E402  (the shared stack start-up)
from benches.stack import say  # noqa: E402

BENCH_VAR = BASE_DIR / "var" / "bench"
DB_NAME = "aios_quality"

BRIEFS = [
    ("Autumn Ember is back", "Announce the return of the Autumn Ember roast", "coffee lovers", "blog", "blog-post"),
    ("New opening hours", "Tell customers our cafés now open at 7 am on weekdays", "regular customers", "newsletter",
     "product-update"),
    ("How we roast", "Explain how Northwind roasts its beans in small batches", "curious coffee drinkers", "blog",
     "blog-post"),
    ("Oat milk at no extra cost", "Announce that oat milk no longer costs extra", "café guests", "social",
     "product-update"),
    ("Meet our Huila farmers", "Introduce the farmers who grow the Autumn Ember beans", "coffee lovers", "blog",
     "blog-post"),
    ("Reusable cup discount", "Explain the 20 cent discount for bringing a reusable cup", "café guests", "newsletter",
     "product-update"),
    ("Brewing at home", "Give three simple tips for brewing Autumn Ember at home", "home baristas", "product",
     "blog-post"),
    ("Gift cards are here", "Announce Northwind gift cards for the holidays", "shoppers", "social", "product-update"),
]


def start_stack(stack: ExitStack) -> dict[str, Any]:
    db = bench.database(stack, var_dir=BENCH_VAR, db_name=DB_NAME)
    llm_port, port = devstack.free_port(), devstack.free_port()
    url = f"http://127.0.0.1:{port}"
    # The product's own settings (as the launcher runs them), not the test settings.
    env = bench.settings_env(
        db.url, DJANGO_SETTINGS_MODULE="aios.settings", AIOS_DEBUG="1", REDIS_URL=bench.valkey(stack),
        AIOS_LLM_BASE_URL=f"http://127.0.0.1:{llm_port}/v1", AIOS_LLM_MODEL="gemma-3-270m",
        AIOS_LLM_MODE="completion", AIOS_PUBLIC_URL=url,
    )
    llama = devstack.spawn(devstack.llama_args(port=llm_port, model_path=devstack.gemma_model_path()),
                           env=bench.child_env(env), log=stack.enter_context(open(BENCH_VAR / "quality-llama.log", "wb")))
    stack.callback(devstack.stop, llama)
    bench.migrate(env, log_path=BENCH_VAR / "quality-migrate.log")
    bench.manage(env, "seed_demo", "--password", "bench", log_path=BENCH_VAR / "quality-migrate.log")
    worker = bench.worker(stack, env, log_path=BENCH_VAR / "quality-worker.log")
    web = bench.web(stack, env, port=port, log_path=BENCH_VAR / "quality-web.log")
    bench.django_setup(stack, env)
    devstack.wait_http(env["AIOS_LLM_BASE_URL"] + "/models", timeout=120, proc=llama)
    bench.ready(env, worker_proc=worker, web_proc=web, url=f"{url}/healthz", timeout=120, ok=(200, 503))
    say(f"stack ready at {url} (llama.cpp on port {llm_port})")
    return {"url": url, "llm": env["AIOS_LLM_BASE_URL"]}


def api_token() -> str:
    from django.contrib.auth import get_user_model

    from governance.tokens import token_create

    user = get_user_model().objects.get(username="rita")
    _, secret = token_create(user=user, name="quality bench", scopes=["read", "write"], expires_in_days=1,
                             created_by=user, rate_limit_per_minute=1000)
    return secret


def file_briefs(url: str, token: str, count: int) -> list[int]:
    import httpx

    ids: list[int | None] = [None] * count
    errors: list[str] = []

    def post(i: int) -> None:
        title, goal, audience, channel, template = BRIEFS[i % len(BRIEFS)]
        body = {"brand": "northwind", "title": title, "goal": goal, "audience": audience, "channel": channel,
                "tone": "warm", "risk": "low", "template": template}
        response = httpx.post(f"{url}/api/v1/briefs", json=body, timeout=60,
                              headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 201:
            errors.append(f"{response.status_code} {response.text[:300]}")
        else:
            ids[i] = response.json()["id"]

    threads = [threading.Thread(target=post, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError("filing briefs failed: " + "; ".join(errors))
    return [i for i in ids if i is not None]


def wait_done(ids: list[int], timeout: float) -> None:
    from editorial.models import Draft

    deadline = time.monotonic() + timeout
    waiting = {Draft.Status.GENERATING, Draft.Status.OUTLINE_REVIEW}
    last = None
    while time.monotonic() < deadline:
        statuses = Counter(Draft.objects.filter(pk__in=ids).values_list("status", flat=True))
        if statuses != last:
            say("drafts: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
            last = statuses
        if not any(s in waiting for s in statuses.elements()):
            return
        time.sleep(1)
    raise TimeoutError(f"drafts still generating after {timeout:.0f} s")


def bare_tokens_per_second(base_url: str, calls: list[dict[str, Any]]) -> tuple[float, int]:
    """The same prompts, sequentially, straight to llama.cpp: generated tokens over wall time."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=300)
    tokens, spent = 0, 0.0
    for call in calls:
        started = time.perf_counter()
        stream = client.completions.create(model="gemma-3-270m", prompt=call["prompt"], max_tokens=call["max_tokens"],
                                           stop=call["stop"], temperature=call["temperature"], stream=True,
                                           stream_options={"include_usage": True})
        count, usage = 0, None
        for chunk in stream:
            count += sum(1 for c in chunk.choices if c.text)
            usage = chunk.usage or usage
        spent += time.perf_counter() - started
        tokens += usage.completion_tokens if usage else count
    return (tokens / spent if spent else 0.0), tokens


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from agents.pipeline.acceptance import DEFINITION, check_section, rules_for

    print("A usable section:", DEFINITION, "\n", sep="\n")
    with ExitStack() as stack:
        info = start_stack(stack)
        from agents.models import AgentRun, RunSection
        from agents.pipeline.prompts import render_section_prompt
        from agents.pipeline.writer import stop_sequences
        from editorial.models import Draft
        from editorial.sections import split_sections

        token = api_token()
        started = time.monotonic()
        ids = file_briefs(info["url"], token, args.briefs)
        say(f"filed {len(ids)} briefs at once")
        wait_done(ids, args.timeout)
        wall = time.monotonic() - started
        drafts = list(Draft.objects.filter(pk__in=ids).select_related("current_revision", "prompt_version"))
        in_review = [d for d in drafts if d.status == Draft.Status.IN_REVIEW]
        usable = total = 0
        for draft in in_review:
            plan = {s["heading"]: s for s in draft.prompt_version.sections}
            for section in split_sections(draft.current_revision.content):
                total += 1
                usable += not check_section(section.body, rules_for(plan.get(section.heading)))
        sections = list(RunSection.objects.filter(run__draft_id__in=ids, run__kind=AgentRun.Kind.WRITE)
                        .select_related("run__draft__brief__brand", "run__prompt_version", "run__model_version"))
        tries = [len(s.tries) for s in sections if s.tries]
        # Grouped by kind of problem: "too short (3 words; …)" and "repeats the sentence “…”" are reasons.
        reasons = Counter(re.split(r" \(| “", p)[0] for s in sections for t in s.tries for p in t.get("problems", []))
        aios_tokens = sum(t.get("tokens_out", 0) for s in sections for t in s.tries)
        # The model server writes one stream at a time, so AIOS's figure is tokens over the time any
        # write step was running (the union of their intervals), not the sum of their latencies.
        spans = sorted(AgentRun.objects.filter(draft_id__in=ids, kind=AgentRun.Kind.WRITE, finished_at__isnull=False)
                       .values_list("started_at", "finished_at"))
        aios_seconds, edge = 0.0, None
        for start, end in spans:
            if edge is None or start > edge:
                aios_seconds += (end - start).total_seconds()
                edge = end
            elif end > edge:
                aios_seconds += (end - edge).total_seconds()
                edge = end
        texts = [(d.title, d.status, d.current_revision.content if d.current_revision else d.status_reason)
                 for d in drafts]
        calls = []
        for s in sections:
            if not s.done:
                continue
            run = s.run
            planned = run.draft.prompt_version.sections[s.index] if s.index < len(run.draft.prompt_version.sections) else {}
            system, prompt = render_section_prompt(version=run.prompt_version, brief=run.draft.brief, heading=s.heading,
                                                   instruction=planned.get("instruction", ""), sources=run.sources)
            accepted = s.tries[-1] if s.tries else {}
            calls.append({"prompt": f"{system}\n\n{prompt}" if system else prompt,
                          "max_tokens": max(16, accepted.get("tokens_out", 100)), "stop": stop_sequences(run),
                          "temperature": float((run.model_version.parameters or {}).get("temperature", 0.7))})
        say(f"bare llama.cpp: {len(calls)} prompts, one after another")
        bare_tps, bare_tokens = bare_tokens_per_second(info["llm"], calls)
        failed_reasons = Counter(d.status_reason[:120] for d in drafts if d.status != Draft.Status.IN_REVIEW)
    aios_tps = aios_tokens / aios_seconds if aios_seconds else 0.0
    return {
        "briefs": len(ids), "in_review": len(in_review),
        "needs_human": sum(d.status == Draft.Status.NEEDS_HUMAN for d in drafts),
        "failed": sum(d.status == Draft.Status.FAILED for d in drafts),
        "usable_section_rate": usable / total if total else 0.0, "sections_in_review": total,
        "review_without_human_rate": len(in_review) / len(ids) if ids else 0.0,
        "tries_per_section_mean": statistics.mean(tries) if tries else 0.0, "tries_per_section_max": max(tries or [0]),
        "rejections": dict(reasons.most_common()), "not_in_review": dict(failed_reasons.most_common()),
        "wall_s": wall, "drafts_per_min": len(ids) / wall * 60 if wall else 0.0,
        "aios_tokens_per_s": aios_tps, "bare_tokens_per_s": bare_tps,
        "aios_vs_bare": aios_tps / bare_tps if bare_tps else 0.0, "bare_tokens": bare_tokens, "texts": texts,
    }


def report(r: dict[str, Any]) -> None:
    print(f"Briefs filed at once:               {r['briefs']}")
    print(f"In review / needs a human / failed: {r['in_review']} / {r['needs_human']} / {r['failed']}")
    print(f"Usable sections in review:          {r['usable_section_rate']:.3f} of {r['sections_in_review']}")
    print(f"Reached review without a human:     {r['review_without_human_rate']:.3f}")
    print(f"Tries per section:                  mean {r['tries_per_section_mean']:.2f}, max {r['tries_per_section_max']}")
    print("Rejected tries, by reason:          " + (", ".join(f"{k} × {v}" for k, v in r["rejections"].items()) or "none"))
    for reason, n in r["not_in_review"].items():
        print(f"  not in review ({n}): {reason}")
    print(f"Wall time:                          {r['wall_s']:.0f} s ({r['drafts_per_min']:.2f} drafts/min)")
    print(f"Tokens/s through AIOS / bare:       {r['aios_tokens_per_s']:.1f} / {r['bare_tokens_per_s']:.1f} "
          f"(×{r['aios_vs_bare']:.2f})")
    print("\nWhat it wrote:")
    for title, status, text in r["texts"]:
        print(f"\n=== {title} ({status})\n{text}")
    print()
    print(json.dumps({
        "briefs": r["briefs"], "usable_section_rate": round(r["usable_section_rate"], 4),
        "review_without_human_rate": round(r["review_without_human_rate"], 4),
        "tries_per_section_mean": round(r["tries_per_section_mean"], 3), "wall_s": round(r["wall_s"], 1),
        "drafts_per_min": round(r["drafts_per_min"], 3), "aios_tokens_per_s": round(r["aios_tokens_per_s"], 2),
        "bare_tokens_per_s": round(r["bare_tokens_per_s"], 2), "aios_vs_bare_ratio": round(r["aios_vs_bare"], 3),
        "rejections_count": r["rejections"],
    }))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--briefs", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    return bench.run_bench(lambda: measure(args), report)


if __name__ == "__main__":
    sys.exit(main())
