"""One problem, one finding: overlapping findings about the same problem are merged, the strongest
wins, the others are kept as its details (stored, in the API, folded on the draft page)."""
from __future__ import annotations

from django.contrib.auth.models import Permission
from django.urls import reverse

from governance.detectors.findings import FindingData
from governance.detectors.merge import merge_findings
from governance.models import Finding, FindingOverride
from governance.policies import findings_record
from tests.factories import PASSWORD
from tests.helpers import draft_in_review

SENTENCE = "Our app cuts admin by 40%."


def claim(start=22, end=25, severity="warning"):
    return FindingData(category="claim", severity=severity, message="Numeric claim needs a source",
                       start=start, end=end, text=SENTENCE[start:end])


def unsupported(severity="warning"):
    return FindingData(category="unsupported_claim", severity=severity, start=0, end=len(SENTENCE), text=SENTENCE,
                       message="This sentence looks factual (a figure) but no retrieved source supports it.")


def test_a_claim_and_an_unsupported_sentence_around_it_become_one_finding():
    [merged] = merge_findings([claim(), unsupported()])
    assert merged.finding.category == "unsupported_claim"  # checked against the sources: the stronger
    assert [d.message for d in merged.details] == ["Numeric claim needs a source"]


def test_a_higher_severity_wins_whatever_the_category():
    [merged] = merge_findings([claim(severity="blocking"), unsupported()])
    assert merged.finding.category == "claim" and merged.details[0].category == "unsupported_claim"


def test_different_problems_on_the_same_words_stay_separate():
    banned = FindingData(category="banned_term", severity="blocking", message="banned", start=4, end=7, text="app")
    merged = merge_findings([claim(), unsupported(), banned])
    assert sorted(m.finding.category for m in merged) == ["banned_term", "unsupported_claim"]


def test_claims_in_separate_sentences_are_not_merged():
    a = FindingData(category="claim", severity="warning", message="x", start=0, end=4)
    b = FindingData(category="claim", severity="warning", message="y", start=10, end=14)
    assert len(merge_findings([a, b])) == 2


def test_a_chain_of_overlaps_is_one_group_and_spanless_duplicates_collapse():
    a = FindingData(category="unsupported_claim", severity="warning", message="s1", start=0, end=10)
    b = FindingData(category="claim", severity="warning", message="c", start=8, end=14)
    c = FindingData(category="unsupported_claim", severity="warning", message="s2", start=12, end=20)
    source = FindingData(category="prompt_injection", severity="warning", message="source flagged")
    merged = merge_findings([a, b, c, source, source])
    assert [len(m.details) for m in merged] == [2, 1]


def test_the_merged_finding_is_stored_with_its_details(world):
    draft = draft_in_review(world, content=SENTENCE)
    Finding.objects.filter(revision=draft.current_revision).delete()
    findings_record(revision=draft.current_revision, run=None, version=None, findings=[claim(), unsupported()])
    [stored] = Finding.objects.filter(revision=draft.current_revision)
    assert stored.category == "unsupported_claim"
    assert stored.details == [{"category": "claim", "severity": "warning", "message": "Numeric claim needs a source",
                               "start": 22, "end": 25, "text": "40%", "suggestion": ""}]


def test_the_draft_page_and_the_api_show_one_finding_with_its_details_folded(client, world):
    draft = draft_in_review(world, content=SENTENCE)
    Finding.objects.filter(revision=draft.current_revision).delete()
    findings_record(revision=draft.current_revision, run=None, version=None, findings=[claim(), unsupported()])
    assert client.login(username="eddie", password=PASSWORD)
    page = client.get(reverse("editorial:draft", args=[draft.pk])).content.decode()
    assert 'Policy findings <span class="count">1</span>' in page
    assert '<details class="finding-details">' in page and "1 more on this" in page
    assert "Numeric claim needs a source" in page
    body = client.get(f"/api/v1/drafts/{draft.pk}").json()
    assert [f["category"] for f in body["findings"]] == ["unsupported_claim"]
    assert [d["message"] for d in body["findings"][0]["details"]] == ["Numeric claim needs a source"]


def test_a_merged_blocking_finding_can_still_be_overridden(client, world):
    draft = draft_in_review(world, content=SENTENCE)
    Finding.objects.filter(revision=draft.current_revision).delete()
    findings_record(revision=draft.current_revision, run=None, version=None,
                    findings=[claim(severity="blocking"), unsupported()])
    [finding] = Finding.objects.filter(revision=draft.current_revision)
    world.editor.user_permissions.add(Permission.objects.get(codename="override_finding"))
    assert client.login(username="eddie", password=PASSWORD)
    response = client.post(reverse("governance:finding-override", args=[draft.pk, finding.pk]),
                           {"justification": "The 40% comes from our audited report."}, follow=True)
    assert response.status_code == 200
    assert FindingOverride.objects.get(finding=finding).user == world.editor
