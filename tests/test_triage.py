"""The triage classifier: labelled examples in the admin, kNN on local embeddings, risk routing."""
from __future__ import annotations

import pytest
from django.urls import reverse

from agents.models import TriageCategory, TriageExample
from agents.triage import triage_example_save, triage_predict
from editorial.briefs import brief_create
from governance.gates import gate_states
from governance.models import AuditEvent
from tests.helpers import file_brief

pytestmark = pytest.mark.slow  # the local embedding model

EXAMPLES = {
    ("health claims", "high"): [
        ("Our coffee cures headaches and lowers blood pressure", "assertive"),
        ("Drinking this tea helps you lose weight and prevents diabetes", "assertive"),
        ("Clinically proven supplement boosts your immune system against flu", "urgent"),
    ],
    ("product news", "low"): [
        ("Announce the new autumn roast and its tasting notes", "warm"),
        ("Our cafe opens a new shop on the high street next month", "friendly"),
        ("Introducing a seasonal blend with notes of caramel", "warm"),
    ],
}


@pytest.fixture
def labelled(db):
    for (name, risk), rows in EXAMPLES.items():
        category = TriageCategory.objects.create(name=name, risk=risk)
        for text, tone in rows:
            triage_example_save(example=TriageExample(text=text, tone=tone, category=category))


def test_without_examples_triage_is_empty_and_the_risk_is_what_was_asked(world):
    draft = file_brief(world, risk="low")
    assert draft.brief.triage == {} and draft.brief.risk == "low"
    assert not AuditEvent.objects.filter(action="editorial.brief.triage_risk").exists()


def test_examples_get_embeddings_and_the_nearest_neighbours_vote(labelled):
    assert TriageExample.objects.filter(embedding__isnull=True).count() == 0
    result = triage_predict("Say that our espresso reduces the risk of heart disease and cures fatigue")
    assert result["category"] == "health claims" and result["suggested_risk"] == "high"
    assert 0.5 < result["confidence"] <= 1.0 and result["tone"] in {"assertive", "urgent"}
    assert triage_predict("A warm note about our new winter blend")["category"] == "product news"


def test_a_risky_brief_is_routed_to_high_risk_audited_and_shown(world, labelled, client):
    draft = brief_create(user=world.requester, brand=world.brand, title="Coffee that heals",
                         goal="Tell readers our coffee cures headaches and lowers blood pressure",
                         audience="older readers", channel="blog", tone="warm", risk="low", template=world.template)
    brief = draft.brief
    assert brief.risk == "high"
    assert brief.triage["category"] == "health claims" and brief.triage["suggested_risk"] == "high"
    assert brief.triage["raised_from"] == "low" and brief.triage["confidence"] > 0.5
    event = AuditEvent.objects.get(action="editorial.brief.triage_risk", object_id=str(brief.pk))
    assert event.data["risk"] == ["low", "high"] and event.actor_label == "triage classifier"
    # The legal gate (min risk high) now applies to the draft.
    assert "legal" in {s.gate.slug for s in gate_states(draft)}

    client.force_login(world.editor)
    page = client.get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert 'id="triage"' in page and "health claims" in page and "raised from low by triage" in page


def test_triage_never_lowers_the_risk_the_requester_chose(world, labelled):
    draft = file_brief(world, risk="high", title="A new autumn roast")
    assert draft.brief.triage["category"] == "product news"
    assert draft.brief.risk == "high" and "raised_from" not in draft.brief.triage
    assert not AuditEvent.objects.filter(action="editorial.brief.triage_risk").exists()


def test_the_admin_saves_examples_with_embeddings_and_audits_them(admin_client, db):
    category = TriageCategory.objects.create(name="legal", risk="high")
    response = admin_client.post(reverse("admin:agents_triageexample_add"), {
        "text": "Compare our prices with a named competitor", "tone": "neutral", "category": category.pk,
    })
    assert response.status_code == 302
    example = TriageExample.objects.get()
    assert example.embedding is not None and len(example.embedding) == 384
    assert AuditEvent.objects.filter(action="agents.triage_example.create", object_id=str(example.pk)).exists()
    response = admin_client.post(reverse("admin:agents_triagecategory_change", args=[category.pk]),
                                 {"name": "legal", "risk": "medium"})
    assert response.status_code == 302
    assert AuditEvent.objects.get(action="agents.triage_category.change").data["old"]["risk"] == "high"


def test_the_admin_tries_the_classifier_without_storing_anything(admin_client, labelled):
    url = reverse("admin:agents_triageexample_try")
    assert "Try the classifier" in admin_client.get(reverse("admin:agents_triageexample_changelist")).content.decode()
    count = TriageExample.objects.count()
    page = admin_client.post(url, {"text": "This tea prevents diabetes and cures the flu"}).content.decode()
    assert "health claims" in page and "high" in page
    assert TriageExample.objects.count() == count
