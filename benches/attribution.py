"""Attribution benchmark: what "who wrote what" costs on the draft page, where it is computed on demand.

A draft's attribution walks its history: one word diff (`editorial.diffs.word_diff`) per revision, then
counts words per section (`editorial.attribution`). This measures that walk, in process and without a
database (the one query that loads a draft's revisions is left out), for texts of 2,000 and 10,000
words with 5 and 20 revisions: the agent's text, then people's edits (a few words changed or a sentence
rewritten in a few paragraphs) alternating with agent section rewrites. The baseline, measured in the
same run, is the one word diff between the last two revisions that the draft page already draws (its
"Changes" card). The walk's result for each revision is cached (and stored at approval), so a page view
after a new revision pays one step: the parent's labels cached, one diff and the counting; that is
measured too. Times are p50/p95 over `--runs` runs after a warm-up.

Run from the repository root:

    .venv/bin/python benches/attribution.py [--runs 15]

stdout gets the readable report and, as its last line, one JSON object.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("AIOS_SECRET_KEY", "bench-only-not-secret")

VOCABULARY = ("coffee roast autumn ember huila medium dark plum cocoa brew grind water grams cup barista "
              "harvest farm washed natural sweet bright body finish aroma cherry origin altitude season "
              "kettle filter espresso milk tasting notes caramel citrus smooth rich").split()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def history(words: int, revisions: int, rng: random.Random) -> list[tuple[str, bool]]:
    """(text, written by the agent) for each revision: sections of ~200 words in 4-sentence paragraphs."""
    sections = []
    for s in range(max(1, words // 200)):
        sentences = [" ".join(rng.choice(VOCABULARY) for _ in range(10)).capitalize() + "." for _ in range(20)]
        paragraphs = [" ".join(sentences[i:i + 4]) for i in range(0, 20, 4)]
        sections.append([f"Section {s + 1}", paragraphs])

    def text() -> str:
        return "\n\n".join(f"## {h}\n\n" + "\n\n".join(ps) for h, ps in sections)

    out = [(text(), True)]
    for r in range(1, revisions):
        by_agent = r % 3 == 0
        if by_agent:  # a section rewritten by the agent
            section = rng.choice(sections)
            section[1] = [" ".join(rng.choice(VOCABULARY) for _ in range(40)).capitalize() + "." for _ in range(5)]
        else:  # a person changes words in a few paragraphs and rewrites a sentence
            for _ in range(4):
                section = rng.choice(sections)
                i = rng.randrange(len(section[1]))
                ws = section[1][i].split()
                ws[rng.randrange(len(ws))] = "smoky"
                section[1][i] = " ".join(ws)
            section = rng.choice(sections)
            section[1][0] = "Orders leave the roastery every Tuesday. " + section[1][0].split(". ", 1)[-1]
        out.append((text(), by_agent))
    return out


def attribution_walk(chain: list[tuple[str, bool]]) -> object:
    from editorial.attribution import apply_revision, summarise

    runs, previous = [], ""
    for content, by_agent in chain:
        runs = apply_revision(runs, previous, content, by_agent=by_agent)
        previous = content
    return summarise(revision_id=0, content=previous, runs=runs)


def parent_runs(chain: list[tuple[str, bool]]) -> list:
    from editorial.attribution import apply_revision

    runs, previous = [], ""
    for content, by_agent in chain[:-1]:
        runs = apply_revision(runs, previous, content, by_agent=by_agent)
        previous = content
    return runs


def measure(words: int, revisions: int, runs: int) -> dict:
    from editorial.attribution import apply_revision, summarise
    from editorial.diffs import word_diff

    chain = history(words, revisions, random.Random(words * 31 + revisions))
    attribution_walk(chain)  # warm-up
    cached = parent_runs(chain)
    gc.collect()
    walk, step, diff = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = attribution_walk(chain)
        walk.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()  # the parent's runs cached: one diff and the counting
        summarise(revision_id=0, content=chain[-1][0],
                  runs=apply_revision(cached, chain[-2][0], chain[-1][0], by_agent=chain[-1][1]))
        step.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        word_diff(chain[-2][0], chain[-1][0])
        diff.append((time.perf_counter() - t0) * 1000)
    return {"words": len(chain[-1][0].split()), "revisions": revisions, "walk": walk, "step": step, "diff": diff,
            "counts": result.words}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    import django

    django.setup()
    load = os.getloadavg()[0]
    figures: dict[str, float] = {}
    print("attribution benchmark: the history walk vs one word diff (the draft page's own), "
          f"{args.runs} timed runs each")
    for words, revisions in ((2000, 5), (2000, 20), (10000, 5), (10000, 20)):
        r = measure(words, revisions, args.runs)
        w50, w95 = percentile(r["walk"], 50), percentile(r["walk"], 95)
        s95, d95 = percentile(r["step"], 95), percentile(r["diff"], 95)
        print(f"  {r['words']:>6,} words, {revisions:>2} revisions: whole walk p50 {w50:7.1f} ms, p95 {w95:7.1f} ms"
              f" ({w95 / d95:4.1f}× the diff) · parent cached p95 {s95:6.1f} ms ({s95 / d95:3.1f}×)"
              f" · one word diff p95 {d95:6.1f} ms · words {r['counts']}")
        key = f"{words // 1000}k_words_{revisions}_revisions"
        figures[f"attribution_{key}_p95_ms"] = round(w95, 1)
        figures[f"attribution_cached_parent_{key}_p95_ms"] = round(s95, 1)
        figures[f"word_diff_{key}_p95_ms"] = round(d95, 1)
    print(f"  load average (1 min) {load:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} CPUs")
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
