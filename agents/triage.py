"""A small triage classifier: tone and content category of a brief, for risk routing.

Labelled examples (TriageExample: text, tone, category) are kept in the admin; each is embedded with
the local all-MiniLM-L6-v2 when saved. A prediction is a k-nearest-neighbour vote over those
examples, each neighbour weighted by its cosine similarity (neighbours below MIN_SIMILARITY do not
vote; the mechanism is `agents/nearest.py`, shared with the source-injection scorer). The confidence of
a label is its share of the vote. A brief whose predicted category carries a
higher risk than the requester chose is raised to it; it is never lowered.
"""
from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from agents.embeddings import LOCAL_MODEL, embed_local
from agents.models import TriageCategory, TriageExample
from agents.nearest import K, MIN_SIMILARITY, nearest_rows, vote
from governance.audit import audit_log
from governance.models import RISK_ORDER

log = logging.getLogger(__name__)


@transaction.atomic
def triage_example_save(*, example: TriageExample, user: Any = None) -> TriageExample:
    """Create or change a labelled example; its embedding is computed from its text."""
    text = " ".join((example.text or "").split())
    if not text:
        from django.core.exceptions import ValidationError

        raise ValidationError({"text": "An example needs some text."})
    created = example.pk is None
    old = None if created else TriageExample.objects.filter(pk=example.pk).values("text", "tone", "category_id").first()
    if created or old is None or old["text"] != example.text or example.embedding is None:
        example.embedding = embed_local([example.text])[0]
    if created and user is not None and getattr(user, "is_authenticated", False):
        example.created_by = user
    example.save()
    audit_log(action=f"agents.triage_example.{'create' if created else 'change'}", obj=example, user=user,
              data={"tone": example.tone, "category": example.category.name,
                    "old": {k: v for k, v in (old or {}).items() if k != "text"}})
    return example


@transaction.atomic
def triage_example_delete(*, example: TriageExample, user: Any = None) -> None:
    audit_log(action="agents.triage_example.delete", obj=example, user=user,
              data={"tone": example.tone, "category": example.category.name, "text": example.text[:200]})
    example.delete()


@transaction.atomic
def triage_category_save(*, category: TriageCategory, user: Any = None) -> TriageCategory:
    created = category.pk is None
    old = None if created else TriageCategory.objects.filter(pk=category.pk).values("name", "risk").first()
    category.save()
    audit_log(action=f"agents.triage_category.{'create' if created else 'change'}", obj=category, user=user,
              data={"name": category.name, "risk": category.risk, "old": old})
    return category


@transaction.atomic
def triage_category_delete(*, category: TriageCategory, user: Any = None) -> None:
    audit_log(action="agents.triage_category.delete", obj=category, user=user,
              data={"name": category.name, "risk": category.risk, "examples": category.examples.count()})
    category.delete()


def triage_predict(text: str, *, k: int = K) -> dict[str, Any]:
    """{tone, category, category_id, confidence, tone_confidence, suggested_risk, neighbours, model};
    {} when there are no labelled examples."""
    examples = TriageExample.objects.filter(embedding__isnull=False)
    if not examples.exists():
        return {}
    vector = embed_local([text])[0]
    neighbours = nearest_rows(examples.select_related("category"), vector, k=k)
    categories = vote(((n.category_id, n.similarity) for n in neighbours), min_similarity=MIN_SIMILARITY)
    tones = vote(((n.tone, n.similarity) for n in neighbours), min_similarity=MIN_SIMILARITY)
    by_id = {n.category_id: n.category for n in neighbours}
    if not categories.voters:
        return {"tone": None, "category": None, "category_id": None, "confidence": 0.0, "tone_confidence": 0.0,
                "suggested_risk": None, "neighbours": 0, "model": LOCAL_MODEL}
    category_id = categories.winner(tie_key=lambda c: RISK_ORDER[by_id[c].risk])  # ties: the riskier
    tone = tones.winner()
    category = by_id[category_id]
    return {
        "tone": tone,
        "category": category.name,
        "category_id": category.pk,
        "confidence": round(categories.share(category_id), 2),
        "tone_confidence": round(tones.share(tone), 2),
        "suggested_risk": category.risk,
        "neighbours": categories.voters,
        "model": LOCAL_MODEL,
    }


def brief_triage(*, title: str, goal: str, audience: str, risk: str) -> tuple[dict[str, Any], str]:
    """(triage, risk to use) for a new brief: the requester's risk, raised to the predicted category's
    risk when that is higher. A classifier failure never stops a brief; it is logged and noted."""
    try:
        triage = triage_predict(f"{title}. {goal} For {audience}.")
    except Exception as exc:  # noqa: BLE001 - e.g. the local model cannot load; the brief goes on as asked
        log.exception("triage failed")
        return {"error": f"{exc.__class__.__name__}: {exc}"[:300]}, risk
    suggested = triage.get("suggested_risk")
    if suggested and RISK_ORDER[suggested] > RISK_ORDER[risk]:
        triage["raised_from"] = risk
        return triage, suggested
    return triage, risk


def triage_risk_audit(*, brief: Any, requested: str, triage: dict[str, Any]) -> None:
    """Audit that the classifier raised a brief's risk (call in the brief's transaction)."""
    audit_log(action="editorial.brief.triage_risk", obj=brief, label="triage classifier",
              data={"risk": [requested, brief.risk], "category": triage.get("category"),
                    "confidence": triage.get("confidence")})
