"""Banned terms: inflections by Snowball stem, on by default for single words, with look-alikes."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from governance.detectors.rules import validate_rules
from governance.policies import evaluate_text


def banned(text: str, terms: list[dict]) -> list[str]:
    findings = evaluate_text(text, channel="blog", banned_terms=terms, disclaimers={}, rules={"claims": {"enabled": False}})
    return [f.text for f in findings if f.category == "banned_term"]


@pytest.mark.parametrize(("text", "found"), [
    ("Every order is guaranteed to arrive.", "guaranteed"),
    ("We are guaranteeing the lowest fee.", "guaranteeing"),
    ("Our guarantees cover two years.", "guarantees"),
    ("Guarantee included.", "Guarantee"),
])
def test_a_single_word_ban_catches_its_inflections_by_default(text, found):
    assert banned(text, [{"term": "guarantee"}]) == [found]


@pytest.mark.parametrize("text", [
    "Our guard dogs are friendly.", "The guarantor signed the lease.", "Security is tight.", "Procurement starts in May.",
])
def test_words_that_only_look_alike_are_not_banned(text):
    assert banned(text, [{"term": "guarantee"}, {"term": "cure"}]) == []


def test_inflections_can_be_turned_off_for_a_term():
    assert banned("Every order is guaranteed.", [{"term": "guarantee", "inflections": False}]) == []
    assert banned("A guarantee you can count on.", [{"term": "guarantee", "inflections": False}]) == ["guarantee"]


def test_a_phrase_matches_literally_unless_its_inflections_are_asked_for():
    assert banned("They are getting richer.", [{"term": "get rich"}]) == []
    assert banned("They are getting richer.", [{"term": "get rich", "inflections": True}]) == []  # "richer" ≠ "rich"
    assert banned("Clients got rich fast.", [{"term": "get rich", "inflections": True}]) == []  # "got": not a stem match
    assert banned("Investors getting rich quickly.", [{"term": "get rich", "inflections": True}]) == ["getting rich"]


def test_the_message_names_the_banned_term_an_inflected_form_comes_from():
    findings = evaluate_text("It was guaranteed.", channel="blog", banned_terms=[
        {"term": "guarantee", "replacement": "designed to"}], disclaimers={}, rules={"claims": {"enabled": False}})
    assert findings[0].message == "“guaranteed” is a form of the banned term “guarantee”; use “designed to” instead."


def test_the_exact_term_and_its_forms_are_each_reported_once():
    assert banned("Guarantee? Guaranteed. Guarantees!", [{"term": "guarantee"}]) == [
        "Guarantee", "Guaranteed", "Guarantees"]


def test_inflections_must_be_true_or_false():
    with pytest.raises(ValidationError) as caught:
        validate_rules([{"term": "cure", "inflections": "yes"}], {}, {})
    assert caught.value.messages == ["banned_terms[0].inflections: must be true or false, not a string"]
