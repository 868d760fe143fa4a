from __future__ import annotations

from governance.models import RuleSetVersion
from governance.policies import evaluate


def version(**kw) -> RuleSetVersion:
    return RuleSetVersion(number=1, banned_terms=kw.get("banned", []), disclaimers=kw.get("disclaimers", {}))


def test_it_finds_every_banned_term_with_its_exact_span_case_insensitively():
    text = "Results GUARANTEED. Our guaranteed roast."
    findings = evaluate(text, channel="blog", version=version(banned=[{"term": "guaranteed", "replacement": "designed to"}]))
    spans = [(f.start, f.end, text[f.start:f.end]) for f in findings]
    assert spans == [(8, 18, "GUARANTEED"), (24, 34, "guaranteed")]
    assert all(f.severity == "blocking" and f.suggestion == "designed to" for f in findings)


def test_it_does_not_flag_a_banned_term_inside_another_word():
    findings = evaluate("The curest form", channel="blog", version=version(banned=[{"term": "cure"}]))
    assert findings == []


def test_it_requires_the_channel_disclaimer_only_on_that_channel():
    v = version(disclaimers={"product": "Prices may change."})
    assert [f.category for f in evaluate("Buy now.", channel="product", version=v)] == ["missing_disclaimer"]
    assert evaluate("Buy now.", channel="blog", version=v) == []
    assert evaluate("Buy now.\n\nPrices   may change.", channel="product", version=v) == []


def test_no_rule_set_means_no_findings():
    assert evaluate("guaranteed", channel="blog", version=None) == []
