"""Sentence-level provenance: sentences linked to their supporting chunks; unsupported claims flagged."""
from __future__ import annotations

import pytest
from django.urls import reverse

from agents.grounding import factual_reasons, ground, split_sentences
from agents.knowledge import document_ingest
from agents.models import AgentRun
from agents.pipeline.kinds import run_execute
from agents.pipeline.runs import TransientRunError
from editorial.models import Draft
from editorial.rendering import render_markdown_with_findings
from governance.models import Finding
from tests.helpers import file_brief

ROAST = ("Autumn Ember is a medium-dark roast from Huila, Colombia. It is roasted in small batches every Tuesday "
         "in our Leeds roastery. Tasting notes: dark chocolate, plum and a hint of cinnamon.")


def test_sentences_carry_their_offsets_and_section_and_skip_headings_and_list_marks():
    content = ("## Intro\n\nAutumn Ember is back. Dr. Smith roasted it at 3.5 kg per batch!\n\n"
               "## Details\n\n- Order by Friday.\n- It ships \"fast\". Really.\n\n```\ncode. Not prose.\n```\n")
    sentences = split_sentences(content)
    assert [(s.section, content[s.start:s.end]) for s in sentences] == [
        ("Intro", "Autumn Ember is back."),
        ("Intro", "Dr. Smith roasted it at 3.5 kg per batch!"),
        ("Details", "Order by Friday."),
        ("Details", "It ships \"fast\"."),
        ("Details", "Really."),
    ]


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        ("We think you will love it.", []),
        ("Come and try it.", []),
        ("It costs $12 a bag.", ["figure", "percentage or price"]),
        ("Sales rose 40 percent.", ["figure", "percentage or price"]),
        ("It opens in March.", ["date", "proper name"]),
        ("This is the best coffee.", ["superlative or absolute claim"]),
        ("It was in his first year as a barista here.", []),  # "first" as a time orders, it claims nothing
        ("At first the grinder was too loud.", []),
        ("Grinding is the first step to a good cup.", []),
        ("It was the first coffee to be roasted on solar power.", ["superlative or absolute claim"]),
        ("It is the first and only oat latte here.", ["superlative or absolute claim"]),
        ("It grows in Huila.", ["proper name"]),
        # As the real model wrote them: "first" as an order, a section, or someone's own history.
        ("First, we are very pleased to present this box.", []),
        ("I asked my first barista what she learned in her first week.", []),
        ("The first section of this article explains light roasts.", []),
        ("Our café was the first.", ["superlative or absolute claim"]),
        ("I hope you like the coffee I'm about to start.", []),  # as the real model wrote it
        ("Today I’ve a plan, and I'd share it if I'll see you.", []),
        ("Yesterday I met Ida.", ["proper name"]),
        ("Token w12 w13 streamed.", []),  # digits inside words are not figures
    ],
)
def test_the_factual_heuristic(text, reasons):
    assert factual_reasons(text) == reasons


@pytest.mark.slow
def test_a_copied_sentence_links_to_its_chunk_and_an_invented_figure_is_flagged():
    sources = [
        {"chunk_id": 11, "document_id": 1, "title": "Roast facts", "text": ROAST},
        {"chunk_id": 12, "document_id": 2, "title": "Parking", "text": "Our car park opens at 7 am on weekdays."},
    ]
    content = ("## Intro\n\nIt is roasted in small batches every Tuesday in our Leeds roastery. "
               "We think you will love it.\n\n## Price\n\nAutumn Ember costs 49 euros per bag and won 3 awards.")
    result = ground(content, sources)
    by_text = {content[s["start"]:s["end"]]: s for s in result.sentences}
    copied = by_text["It is roasted in small batches every Tuesday in our Leeds roastery."]
    assert copied["chunk_id"] == 11 and copied["title"] == "Roast facts" and copied["score"] >= 0.9
    assert copied["supported"] and copied["factual"] and copied["section"] == "Intro"
    assert "Leeds roastery" in copied["snippet"]
    assert by_text["We think you will love it."]["supported"]  # not factual: never flagged
    invented = by_text["Autumn Ember costs 49 euros per bag and won 3 awards."]
    assert invented["supported"] is False and invented["section"] == "Price"
    [finding] = result.findings
    assert finding.category == "unsupported_claim" and finding.severity == "warning"
    assert content[finding.start:finding.end] == finding.text == "Autumn Ember costs 49 euros per bag and won 3 awards."
    assert "3, 49" in finding.message


@pytest.mark.slow
def test_an_unrelated_claim_below_the_threshold_is_flagged_and_the_threshold_is_a_setting(settings):
    sources = [{"chunk_id": 1, "document_id": 1, "title": "Roast facts", "text": ROAST}]
    content = "## A\n\nNorthwind was founded in Paris by a famous chef."
    assert len(ground(content, sources).findings) == 1
    settings.AIOS_GROUNDING_THRESHOLD = -1.0  # anything counts as support (no figures to check)
    assert ground(content, sources).findings == []


def test_the_brands_own_name_is_not_a_claim():
    assert factual_reasons("We at Northwind Coffee love it.") == ["proper name"]
    assert factual_reasons("We at Northwind Coffee love it.", known_names={"northwind", "coffee"}) == []


def test_without_retrieved_sources_nothing_is_flagged():
    content = "## A\n\nIt costs $5."
    result = ground(content, [])
    assert result.findings == [] and result.sentences[0]["chunk_id"] is None
    assert result.sentences[0]["supported"] is None  # unknown, not unsupported
    html = str(render_markdown_with_findings(content, [], sentences=result.sentences))
    assert 'class="sent"' in html and "unsupported" not in html and "No source was retrieved" in html


def test_the_reading_view_escapes_source_text_and_model_output():
    content = "## A\n\nFirst <img src=x onerror=alert(1)> claim costs $5. Second one."
    links = [s | {"chunk_id": 1, "title": "<script>t()</script>", "snippet": "\"><b>x</b>", "score": 0.31,
                  "supported": False, "matched": False}
             for s in ({"start": s.start, "end": s.end} for s in split_sentences(content))]
    html = str(render_markdown_with_findings(content, [], sentences=links))
    assert "<script>" not in html and "onerror" not in html and "<b>x</b>" not in html
    assert "&lt;script&gt;t()&lt;/script&gt;" in html
    assert html.count('class="sent unsupported" tabindex="0"') == 2
    assert 'aria-describedby="src-tip-0"' in html and 'id="src-tip-0"' in html and 'role="tooltip"' in html


def drive(draft: Draft) -> None:
    for _ in range(20):
        run = AgentRun.objects.filter(draft=draft, status=AgentRun.Status.QUEUED).order_by("id").first()
        if run is None:
            return
        try:
            run_execute(run_id=run.pk)
        except TransientRunError:
            continue


@pytest.mark.slow
def test_the_pipeline_stores_sentence_links_and_the_desk_shows_sources_on_focus(world, settings, llm, client):
    settings.AIOS_LLM_BASE_URL, settings.AIOS_LLM_MODEL, settings.AIOS_LLM_MODE = llm.base_url, "m", "completion"
    doc = document_ingest(brand=world.brand, title="Roast facts", body=ROAST)
    draft = file_brief(world, title="Autumn Ember roast")
    draft.brief.goal = ("[[echo:Autumn Ember is a medium-dark roast from Huila, Colombia. "
                        "A bag costs 99 euros and sold 5000 units.]]")
    draft.brief.save()
    drive(draft)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW
    revision = draft.current_revision
    sentences = revision.provenance["sentences"]
    content = revision.content
    copied = [s for s in sentences if content[s["start"]:s["end"]].startswith("Autumn Ember is")]
    assert len(copied) == 2  # one per section
    chunk = doc.chunks.get()
    assert all(s["chunk_id"] == chunk.pk and s["document_id"] == doc.pk and s["score"] > 0.8 and s["supported"]
               for s in copied)
    assert {s["section"] for s in copied} == {"Part 1", "Part 2"}
    flagged = Finding.objects.filter(revision=revision, category="unsupported_claim")
    assert flagged.count() == 2
    assert all(content[f.start:f.end] == "A bag costs 99 euros and sold 5000 units." for f in flagged)

    client.force_login(world.editor)
    page = client.get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert page.count('class="sent" tabindex="0"') == 2 and page.count('class="sent unsupported"') == 2
    assert "Source: Roast facts (score" in page and "Unsupported: no source backs this claim" in page
    assert "2 unsupported claims" in page
