"""Source injection: instructions to the assistant hidden in retrieved or ingested source text.

Two signals, either of which flags a passage:

* the patterns of `governance.detectors.injection.instruction_like` (classic triggers, changes of
  format or persona, "from now on…", demands to add a link or a code, text addressed to the AI,
  orders hidden in HTML comments);
* a nearest-neighbour vote (`agents/nearest.py`, the mechanism of triage) over labelled sentences
  (`InjectionExample`, kept in the admin, seeded by a data migration from
  `agents/data/injection_examples.json`), on the local all-MiniLM-L6-v2 embeddings. Each sentence and
  each HTML comment of the text is scored on its own; it is flagged when at least THRESHOLD of the
  vote says "injection" and its nearest example is at least MIN_SIMILARITY alike.

A flagged chunk is kept and fenced as untrusted like every source; the check step tells the editor.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max

from agents.embeddings import embed_local
from agents.models import InjectionExample
from agents.nearest import ExampleIndex
from governance.audit import audit_log
from governance.detectors.findings import WARNING, FindingData, hit
from governance.detectors.injection import instruction_like

log = logging.getLogger(__name__)

SEED_PATH = Path(__file__).resolve().parent / "data" / "injection_examples.json"
K = 5
THRESHOLD = 0.85  # share of the similarity-weighted vote
MIN_SIMILARITY = 0.5  # of the nearest example, so a sentence unlike every example stays quiet
POWER = 4  # each neighbour votes with similarity ** POWER: a near-duplicate example outweighs loose ones
MESSAGE = ("Reads like an instruction to the assistant ({share:.0%} of the vote of its nearest labelled "
           "examples); the model must not follow it.")
# A sentence (a full stop inside "example.net/x" does not end one) or an HTML comment.
_PIECE = re.compile(r"<!--.*?-->|(?:[^.!?\n<]|[.!?](?=\S)|<(?!!--))+(?:[.!?]+|$)", re.DOTALL | re.MULTILINE)

_cache_lock = threading.Lock()
_cache: dict[str, Any] = {"key": None, "index": None}
_embedded: dict[str, list[float]] = {}  # text → vector, so a rolled-back fill is not computed again


@transaction.atomic
def injection_example_save(*, example: InjectionExample, user: Any = None) -> InjectionExample:
    """Create or change a labelled example; its embedding is computed from its text."""
    example.text = " ".join((example.text or "").split())
    if not example.text:
        raise ValidationError({"text": "An example needs some text."})
    created = example.pk is None
    old = None if created else InjectionExample.objects.filter(pk=example.pk).values("text", "is_injection").first()
    if created or old is None or old["text"] != example.text or example.embedding is None:
        example.embedding = embed_local([example.text])[0]
    if created and user is not None and getattr(user, "is_authenticated", False):
        example.created_by = user
    example.save()
    audit_log(action=f"agents.injection_example.{'create' if created else 'change'}", obj=example, user=user,
              data={"is_injection": example.is_injection, "text": example.text[:200],
                    "old": old and {"is_injection": old["is_injection"], "text": old["text"][:200]}})
    return example


@transaction.atomic
def injection_example_delete(*, example: InjectionExample, user: Any = None) -> None:
    audit_log(action="agents.injection_example.delete", obj=example, user=user,
              data={"is_injection": example.is_injection, "text": example.text[:200]})
    example.delete()


def seed_examples() -> list[dict[str, Any]]:
    """The seed examples: [{"text", "is_injection"}]."""
    return json.loads(SEED_PATH.read_text(encoding="utf-8"))


def index_from_examples(examples: list[dict[str, Any]]) -> ExampleIndex:
    """An index of labelled texts embedded now (for the bench and tests; the product uses the admin's)."""
    return ExampleIndex.build(embed_local([e["text"] for e in examples]), (bool(e["is_injection"]) for e in examples))


def example_index() -> ExampleIndex:
    """The admin's examples, embedded; rebuilt when one is added, changed or deleted. Examples saved
    without an embedding (the seed migration cannot load the model) are embedded here, once."""
    missing = list(InjectionExample.objects.filter(embedding__isnull=True).only("pk", "text"))
    if missing:
        new = [e.text for e in missing if e.text not in _embedded]
        _embedded.update(zip(new, embed_local(new), strict=True))
        for example in missing:
            InjectionExample.objects.filter(pk=example.pk, text=example.text).update(embedding=_embedded[example.text])
    stats = InjectionExample.objects.aggregate(n=Count("pk"), changed=Max("updated_at"), last=Max("pk"))
    key = f"{stats['n']}:{stats['last']}:{stats['changed'].isoformat() if stats['changed'] else ''}"
    with _cache_lock:
        if _cache["key"] == key:
            return _cache["index"]
    rows = list(InjectionExample.objects.filter(embedding__isnull=False).values_list("embedding", "is_injection"))
    index = ExampleIndex.build([list(v) for v, _ in rows], (label for _, label in rows))
    with _cache_lock:
        _cache.update(key=key, index=index)
    return index


def _pieces(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _PIECE.finditer(text):
        start, end = m.span()
        start += len(m.group(0)) - len(m.group(0).lstrip())
        if len(text[start:end].split()) >= 3:
            spans.append((start, end))
    return spans


def source_injection(text: str, *, index: ExampleIndex | None = None, severity: str = WARNING) -> list[FindingData]:
    """Findings for instruction-like passages of a source text: the patterns', then the classifier's
    for sentences the patterns did not flag. `index` defaults to the admin's examples."""
    findings = instruction_like(text, severity=severity)
    index = example_index() if index is None else index
    if not len(index):
        return findings
    taken = [(f.start, f.end) for f in findings]
    pieces = [(s, e) for s, e in _pieces(text) if not any(s < b and a < e for a, b in taken)]
    if not pieces:
        return findings
    votes = index.votes(embed_local([text[s:e] for s, e in pieces]), k=K, power=POWER)
    for (start, end), v in zip(pieces, votes, strict=True):
        if v.top_similarity >= MIN_SIMILARITY and v.share(True) >= THRESHOLD:
            findings.append(hit(text, start, end, category="prompt_injection", severity=severity,
                                message=MESSAGE.format(share=v.share(True))))
    findings.sort(key=lambda f: f.start)
    return findings


def is_flagged(text: str) -> bool:
    """Whether a source text holds instruction-like passages. If the classifier cannot run (the local
    model fails to load), the patterns alone decide, and the failure is logged."""
    try:
        return bool(source_injection(text))
    except Exception:  # noqa: BLE001 - a scorer failure must not stop an ingest; the patterns still ran
        log.exception("source injection classifier failed; patterns only")
        return bool(instruction_like(text))
