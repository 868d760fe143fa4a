"""Guardrail bench: recall and precision of each policy detector on the labelled corpus.

The corpus is `tests/data/guardrails/*.jsonl`: one item a line, with its text, the category of finding
it is about, whether a finding of that category is expected, its family (what kind of claim, look-alike
or trick it is), its split ("tune" or "holdout": detectors were tuned on the first, the second checks
that they were not tuned to the items) and the brand context it needs (phone regions, banned terms,
retrieved sources). An item counts as flagged when the checks report at least one finding of its
category, so a figure here is about items, not spans.

Everything runs in-process with the product's own entry points: `governance.policies.evaluate_text`
under a rule set built from the item's context, and, for prompt injection, the source scorer
(`agents/injection.py`) with the seed examples. No database is used; the local embedding model loads
once (a few seconds).

Run from the repository root:

    .venv/bin/python benches/guardrails.py [--corpus main|fresh] [--split all|tune|holdout] [--misses]

`--corpus fresh` scores the blind set (tests/data/guardrails/fresh/), written before its author read
the detectors: its holdout half was never used for tuning.

stdout gets a table per category and split, then the time to check a 10,000-word text with a typical
rule set (40 banned phrases, an inflected banned word, a disclaimer, length, reading level, a pattern,
claims and personal data) against a baseline measured in the same run: one pass of the word regex
over the same text. The goal is well under 100 ms per 10,000 words. Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from governance.detectors.stems import WORD  # noqa: E402
from governance.policies import evaluate_text  # noqa: E402
from tests.guardrail_corpus import CATEGORIES, CORPUS_DIR, FRESH_DIR, flagged_items, load_corpus  # noqa: E402

SENTENCES = [
    "Our roasters work with farmers in Huila, Colombia, and visit every harvest.",
    "The beans are washed, dried on raised beds and rested for six weeks before export.",
    "A medium roast brings out notes of cherry, cocoa and orange peel.",
    "Grind just before brewing and use water slightly below boiling.",
    "Stir for 2 minutes, then press slowly and pour at once.",
    "Many guests tell us it is the best cup of their week.",
    "Questions? Write to hello@example.com or call (415) 555-2671.",
    "We opened our first café in 2019 and now ship to 12 countries.",
    "Prices start at $12.50 for a 250 g bag, and shipping is free over $40.",
]
RULES = {
    "length": {"max_words": 1200},
    "reading_level": {"max_grade": 8},
    "patterns": [{"pattern": r"\bsynerg\w*", "message": "Jargon."}],
}
BANNED = [{"term": f"banned phrase {i}"} for i in range(40)] + [{"term": "guaranteed"}, {"term": "cheap"}]


def ten_thousand_words() -> str:
    rng = random.Random(7)
    parts, count = [], 0
    while count < 10_000:
        sentence = rng.choice(SENTENCES)
        parts.append(sentence + ("\n\n" if rng.random() < 0.2 else " "))
        count += len(sentence.split())
    return "".join(parts)


def best_ms(run, repeats: int = 5) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return round(min(timings) * 1000, 1)


def timing() -> dict[str, float]:
    """ms to check 10,000 words, and the baseline: ms for one pass of the word regex over them."""
    text = ten_thousand_words()

    def run_check():
        return evaluate_text(text, channel="blog", banned_terms=BANNED, disclaimers={"blog": "Prices may change."},
                             rules=RULES)

    findings = run_check()  # compiles the rules, loads the hyphenation and lemma dictionaries
    check_ms = best_ms(run_check)
    scan_ms = best_ms(lambda: sum(1 for _ in WORD.finditer(text)), repeats=25)  # short: more tries against noise
    ratio_ = round(check_ms / scan_ms, 1) if scan_ms else 0.0
    print(f"\ncheck 10,000 words: {check_ms:.1f} ms ({len(findings)} findings); "
          f"baseline word scan: {scan_ms:.1f} ms; ratio {ratio_}x")
    return {"check_ms_per_10k_words": check_ms, "word_scan_ms_per_10k_words": scan_ms,
            "check_to_scan_ratio": ratio_}


def ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 3) if denominator else 1.0


def scores(items: list[dict[str, Any]], flagged: dict[str, bool]) -> dict[str, Any]:
    tp = sum(1 for i in items if i["expected"] and flagged[i["id"]])
    fp = sum(1 for i in items if not i["expected"] and flagged[i["id"]])
    fn = sum(1 for i in items if i["expected"] and not flagged[i["id"]])
    return {"items": len(items), "tp": tp, "fp": fp, "fn": fn,
            "recall": ratio(tp, tp + fn), "precision": ratio(tp, tp + fp)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=["main", "fresh"], default="main")
    parser.add_argument("--split", choices=["all", "tune", "holdout"], default="all")
    parser.add_argument("--misses", action="store_true", help="list the items each category got wrong")
    args = parser.parse_args()
    corpus = load_corpus(FRESH_DIR if args.corpus == "fresh" else CORPUS_DIR)
    print(f"corpus: {args.corpus}")
    flagged = flagged_items(corpus)
    result: dict[str, Any] = {}
    print(f"{'category':<16} {'split':<8} {'items':>5} {'recall':>7} {'precision':>9} {'tp':>4} {'fp':>4} {'fn':>4}")
    splits = ["tune", "holdout", "all"] if args.split == "all" else [args.split]
    present = {i["category"] for i in corpus}
    for category in [*[c for c in CATEGORIES if c in present], "overall"]:
        for split in splits:
            items = [i for i in corpus if (category == "overall" or i["category"] == category)
                     and (split == "all" or i["split"] == split)]
            s = scores(items, flagged)
            print(f"{category:<16} {split:<8} {s['items']:>5} {s['recall']:>7.3f} {s['precision']:>9.3f} "
                  f"{s['tp']:>4} {s['fp']:>4} {s['fn']:>4}")
            if split == splits[-1]:
                result[f"{category}_recall"] = s["recall"]
                result[f"{category}_precision"] = s["precision"]
    if args.misses:
        by_category: dict[str, list[str]] = defaultdict(list)
        for i in corpus:
            if flagged[i["id"]] != i["expected"] and (args.split == "all" or i["split"] == args.split):
                kind = "missed" if i["expected"] else "false alarm"
                by_category[i["category"]].append(f"  {kind:<11} {i['id']} [{i['family']}] {i['text']}")
        for category, lines in by_category.items():
            print(f"\n{category}:")
            print("\n".join(lines))
    result["items"] = len([i for i in corpus if args.split == "all" or i["split"] == args.split])
    result.update(timing())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
