"""The labelled guardrail corpus (tests/data/guardrails/) and how each item is checked.

Shared by `benches/guardrails.py` (the figures) and `tests/test_guardrail_corpus.py` (the goals)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agents.injection import index_from_examples, seed_examples, source_injection
from agents.nearest import ExampleIndex
from governance.policies import evaluate_text

CORPUS_DIR = Path(__file__).resolve().parent / "data" / "guardrails"
CATEGORIES = ("claim", "phone", "banned_term", "personal_data", "prompt_injection")


def load_corpus() -> list[dict[str, Any]]:
    items = []
    for path in sorted(CORPUS_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                items.append(json.loads(line))
    return items


def _policy_flags(item: dict[str, Any]) -> bool:
    context = item.get("context", {})
    regions = context.get("regions") or ["US"]
    rules = {"personal_data": {"region": regions[0]}}
    findings = evaluate_text(item["text"], channel="blog", banned_terms=context.get("banned_terms", []),
                             disclaimers={}, rules=rules, regions=regions, sources=context.get("sources", []))
    category = item["category"]
    if category == "phone":
        return any(f.category == "personal_data" and "phone" in f.message for f in findings)
    return any(f.category == category for f in findings)


def flagged_items(corpus: list[dict[str, Any]], *, index: ExampleIndex | None = None) -> dict[str, bool]:
    """{item id: whether the checks flag it}. Prompt injection is scored with `index`, by default the
    seed examples (`agents/data/injection_examples.json`), none of which is a corpus item."""
    flagged = {}
    index = index_from_examples(seed_examples()) if index is None else index
    for item in corpus:
        if item["category"] == "prompt_injection":
            flagged[item["id"]] = bool(source_injection(item["text"], index=index))
        else:
            flagged[item["id"]] = _policy_flags(item)
    return flagged
