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

    .venv/bin/python benches/guardrails.py [--split all|tune|holdout] [--misses]

stdout gets a table per category and split, then, as its last line, one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from tests.guardrail_corpus import CATEGORIES, flagged_items, load_corpus  # noqa: E402


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
    parser.add_argument("--split", choices=["all", "tune", "holdout"], default="all")
    parser.add_argument("--misses", action="store_true", help="list the items each category got wrong")
    args = parser.parse_args()
    corpus = load_corpus()
    flagged = flagged_items(corpus)
    result: dict[str, Any] = {}
    print(f"{'category':<16} {'split':<8} {'items':>5} {'recall':>7} {'precision':>9} {'tp':>4} {'fp':>4} {'fn':>4}")
    splits = ["tune", "holdout", "all"] if args.split == "all" else [args.split]
    for category in [*CATEGORIES, "overall"]:
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
    print(json.dumps(result))


if __name__ == "__main__":
    main()
