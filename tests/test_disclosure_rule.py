"""A brand or channel rule requiring a visible AI disclosure line: missing, it is a finding."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from editorial.editing import draft_edit
from editorial.models import Draft
from governance.gates import unresolved_blocking_findings
from governance.models import RuleSetVersion
from governance.policies import evaluate_text
from tests.helpers import draft_in_review

LINE = "This article was written with the help of AI."


def check(text: str, channel: str, disclosure: dict) -> list:
    return [f for f in evaluate_text(text, channel=channel, banned_terms=[], disclaimers={},
                                     rules={"personal_data": {"enabled": False}, "claims": {"enabled": False},
                                            "disclosure": disclosure})
            if f.category == "missing_disclosure"]


def test_a_channel_rule_flags_a_text_without_the_line_and_only_on_that_channel():
    rule = {"text": LINE, "channels": {"blog": True}}
    [finding] = check("Our roast is dark.", "blog", rule)
    assert finding.severity == "blocking" and finding.suggestion == LINE and LINE in finding.message
    assert check("Our roast is dark.", "social", rule) == []


def test_the_line_counts_whatever_its_case_and_spacing():
    rule = {"text": LINE, "required": True}
    assert check("Our roast is dark.\n\nthis article was  written with the help\nof AI.", "blog", rule) == []


def test_a_brand_rule_covers_every_channel_unless_a_channel_switches_it_off():
    rule = {"text": LINE, "required": True, "channels": {"newsletter": False}, "severity": "warning"}
    assert [f.severity for f in check("Text.", "product", rule)] == ["warning"]
    assert check("Text.", "newsletter", rule) == []


def test_a_rule_that_is_off_or_absent_asks_for_nothing():
    assert check("Text.", "blog", {"text": LINE}) == []
    assert check("Text.", "blog", {}) == []


@pytest.mark.parametrize("bad, message", [
    ({"required": True}, "needs the line"),
    ({"text": LINE, "channels": {"radio": True}}, "unknown channel"),
    ({"text": LINE, "required": "yes"}, "true or false"),
    ({"text": LINE, "severity": "fatal"}, "unknown severity"),
    ({"txt": LINE}, "unknown key"),
    ("always", "must be an object"),
])
def test_a_bad_disclosure_rule_is_refused_with_where_it_is_wrong(bad, message):
    with pytest.raises(ValidationError) as caught:
        check("Text.", "blog", bad)
    assert any("rules.disclosure" in m and message in m for m in caught.value.messages), caught.value.messages


def test_a_missing_disclosure_blocks_approval_until_a_person_adds_the_line(world):
    RuleSetVersion.objects.filter(pk=world.rule_set_version.pk).update(
        rules={"disclosure": {"text": LINE, "channels": {"blog": True}}})
    draft = draft_in_review(world, content="## Part 1\n\nHello coffee lovers.")
    revision = draft_edit(draft=draft, user=world.editor, base_revision_id=draft.current_revision_id,
                          content="## Part 1\n\nHello coffee lovers, old and new.")
    draft = Draft.objects.get(pk=draft.pk)
    assert [f.category for f in unresolved_blocking_findings(draft)] == ["missing_disclosure"]
    draft_edit(draft=draft, user=world.editor, base_revision_id=revision.pk,
               content=f"## Part 1\n\nHello coffee lovers, old and new.\n\n*{LINE}*")
    draft = Draft.objects.get(pk=draft.pk)
    assert unresolved_blocking_findings(draft) == []
