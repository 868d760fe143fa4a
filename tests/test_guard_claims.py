"""Claims that need a source, by family, with the look-alikes that must stay quiet."""
from __future__ import annotations

import pytest

from governance.detectors.claims import find_claims
from governance.policies import evaluate_text


def claims(text: str, **kwargs) -> list[str]:
    return [f.message for f in find_claims(text, **kwargs)]


@pytest.mark.parametrize(("text", "label"), [
    ("Most dentists recommend brushing with our paste.", "Majority"),
    ("The majority of parents now choose our car seat.", "Majority"),
    ("Almost everyone who visits comes back.", "Majority"),
    ("Thousands of gardeners swear by this compost.", "Majority"),
    ("Seven in ten shoppers prefer the new bag.", "Majority"),
    ("Dermatologists recommend it for dry skin.", "Authority"),
    ("Endorsed by leading nutritionists.", "Authority"),
    ("A vet-approved food for older dogs.", "Authority"),
    ("It is scientifically shown to calm the skin.", "Scientific"),
    ("Studies show the blend improves focus.", "Scientific"),
    ("A new study found that the app halves screen time.", "Scientific"),
    ("Backed by science, made with care.", "Scientific"),
    ("You'll never lose a photo again.", "Absolute"),
    ("The case is completely unbreakable.", "Absolute"),
    ("It works every single time.", "Absolute"),
    ("The spray kills all germs on contact.", "Absolute"),
    ("The tea relieves stress after a long day.", "Health"),
    ("Our probiotic improves digestion.", "Health"),
    ("These glasses protect your eyes from screen damage.", "Health"),
    ("A safe investment that beats inflation.", "Financial"),
    ("You cannot lose money with this account.", "Financial"),
    ("Earn an extra income with no effort at all.", "Financial"),
    ("It charges in half the time.", "Numeric"),
    ("Britain's favourite crisps.", "Superlative"),
])
def test_claims_put_in_words_are_flagged_by_family(text, label):
    assert claims(text) and claims(text)[0] == f"{label} claim needs a source"


@pytest.mark.parametrize("text", [
    "I think the new bread is lovely.",
    "We love how the autumn menu turned out.",
    "In my view, slow mornings are worth protecting.",
    "Most of our shops open at nine on Sundays.",
    "Experts from the library host the reading hour.",
    "Doctors' surgeries close early on Fridays.",
    "Science week starts on Monday.",
    "The study room is quiet until noon.",
    "Never leave the kettle unattended.",
    "She never loses her keys now.",
    "Thousands of leaves fall in the park each October.",
    "The majority shareholder is the founding family.",
    "Our investment in new ovens was finished in May.",
    "The immune system is next week's biology topic.",
    "Staff pretend to be pirates at the children's party.",
])
def test_opinions_and_look_alikes_make_no_claim(text):
    assert claims(text) == []


def test_the_brands_own_fact_is_quiet_when_a_retrieved_source_states_it():
    text = "Founded in 2012, we now run 14 stores across Wales."
    source = "Northwind Coffee was founded in 2012 and runs 14 stores across Wales."
    assert claims(text) == ["Numeric claim needs a source"]
    assert claims(text, sources=[source]) == []
    # A source about something else, or with another figure, does not support it.
    assert claims(text, sources=["Northwind Coffee runs 12 stores across Wales since 2012."]) != []
    assert claims(text, sources=["Our espresso is roasted in Cardiff."]) != []


def test_a_supported_sentence_does_not_quiet_an_unsupported_one_beside_it():
    text = "The bakery sells 3,000 loaves a week. Most doctors recommend our rye."
    source = "Weekly figures: the bakery sells 3,000 loaves a week."
    assert [f.text for f in find_claims(text, sources=[source])] == ["Most doctors recommend"]


def test_one_span_gets_one_claim_even_when_two_families_match_it():
    findings = find_claims("Nine out of ten dentists agree.")
    assert len(findings) == 1


def test_the_new_families_can_be_turned_off_by_kind_in_the_rules():
    text = "Studies show it works. Most experts agree."
    only_majority = evaluate_text(text, channel="blog", banned_terms=[], disclaimers={},
                                  rules={"claims": {"kinds": ["majority"]}})
    assert [f.message for f in only_majority] == ["Majority claim needs a source"]
