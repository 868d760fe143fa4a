"""Attribution of a text's words to the agent or to a person, on a hand-made revision history."""
from __future__ import annotations

import re
from decimal import Decimal

from agents.models import AgentRun
from editorial.attribution import AGENT, EDITED, HUMAN, attribute, attribution_for, disclosure_block
from editorial.editing import draft_edit, revision_restore
from editorial.models import Attribution, Draft, Revision
from editorial.revisions import revision_create
from governance.models import AuditEvent
from governance.signoffs import signoff_record
from tests.helpers import draft_in_review

R1 = ("## Part 1\n\nOur roast is dark and sweet. It ships on Monday.\n\n"
      "## Part 2\n\nBrew it with care.")


def labels(revision: Revision) -> dict[str, str]:
    """Each word of the text (the first time it appears) → its label."""
    result = attribute(revision)
    out: dict[str, str] = {}
    for match in re.finditer(r"\w+", revision.content):
        label = next(lab for start, end, lab in result.spans if start <= match.start() < end)
        out.setdefault(match.group(), label)
    return out


def history(world):
    """r1 agent text; r2 a person edits a word and adds a sentence; r3 an agent rewrites Part 2;
    r4 a person rewrites a whole sentence; r5 a person restores r2."""
    draft = draft_in_review(world, content=R1)
    r1 = draft.current_revision
    r2 = draft_edit(draft=draft, user=world.editor, base_revision_id=r1.pk,
                    content=R1.replace("sweet.", "smoky.").replace("Monday.", "Monday. Ask our baristas."))
    run = AgentRun.objects.create(draft=draft, kind=AgentRun.Kind.REGENERATE, status=AgentRun.Status.SUCCEEDED,
                                  idempotency_key=f"test:{draft.pk}:regen")
    r3 = revision_create(draft=draft, author_run=run, parent=r2,
                         content=r2.content.replace("Brew it with care.", "Brew it slowly at home."))
    draft.refresh_from_db()
    r4 = draft_edit(draft=draft, user=world.editor, base_revision_id=r3.pk,
                    content=r3.content.replace("It ships on Monday.", "Orders leave the roastery every Tuesday."))
    draft.refresh_from_db()
    r5 = revision_restore(draft=draft, user=world.editor, revision_id=r2.pk)
    return draft, (r1, r2, r3, r4, r5)


def test_the_agents_first_text_is_all_agent_written(world):
    draft, (r1, *_) = history(world)
    result = attribute(r1)
    assert set(labels(r1).values()) == {AGENT}
    assert result.words[AGENT] == result.total == 18  # headings count: "Part 1", "Part 2"
    assert result.ai_share == Decimal("1.0000")


def test_a_persons_word_change_is_rewritten_agent_text_and_an_added_sentence_is_theirs(world):
    _, (r1, r2, *_) = history(world)
    words = labels(r2)
    assert words["smoky"] == EDITED
    assert words["Ask"] == words["baristas"] == HUMAN
    assert words["roast"] == words["Monday"] == words["Brew"] == AGENT
    result = attribute(r2)
    assert result.words == {AGENT: 17, EDITED: 1, HUMAN: 3}


def test_an_agent_rewrite_of_a_section_is_agent_text_and_leaves_the_persons_words_alone(world):
    _, (_, _, r3, _, _) = history(world)
    words = labels(r3)
    assert words["slowly"] == words["home"] == AGENT
    assert words["smoky"] == EDITED and words["Ask"] == HUMAN
    part2 = next(s for s in attribute(r3).sections if s.heading == "Part 2")
    assert part2.words == {AGENT: 7, EDITED: 0, HUMAN: 0}
    assert part2.ai_share == Decimal("1.0000")


def test_a_persons_rewrite_of_a_whole_sentence_counts_as_rewritten_agent_text(world):
    _, (*_, r4, _) = history(world)
    words = labels(r4)
    assert words["Orders"] == words["roastery"] == words["Tuesday"] == EDITED
    assert "Monday" not in words
    part1 = next(s for s in attribute(r4).sections if s.heading == "Part 1")
    # "Part 1" + "Our roast is dark and" (agent), "smoky" and the new sentence (edited), "Ask our baristas" (human)
    assert part1.words == {AGENT: 7, EDITED: 7, HUMAN: 3}
    assert part1.ai_share == Decimal("0.4118")


def test_a_restore_brings_back_the_restored_revisions_labels_not_the_restorers(world):
    _, (_, r2, _, _, r5) = history(world)
    assert r5.content == r2.content
    assert attribute(r5).spans == attribute(r2).spans
    assert labels(r5)["Brew"] == AGENT and labels(r5)["Ask"] == HUMAN


def test_approval_stores_the_attribution_of_the_approved_text_once_and_audits_it(world):
    draft, (*_, r5) = history(world)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.IN_REVIEW and not Attribution.objects.exists()
    signoff_record(draft=draft, gate=world.gates["editorial"], user=world.editor, decision="approve",
                   revision_id=r5.pk)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    row = Attribution.objects.get(revision=r5)
    assert (row.words_agent, row.words_edited, row.words_human) == (17, 1, 3)
    assert row.ai_share == Decimal("0.8095")
    assert [s["heading"] for s in row.sections] == ["Part 1", "Part 2"]
    assert AuditEvent.objects.filter(action="editorial.attribution.record", object_id=str(row.pk)).count() == 1
    # The stored row is what the draft page and the manifest read from then on.
    assert attribution_for(r5) == attribute(r5)


def test_the_disclosure_block_counts_words_per_section_with_shares_as_strings(world):
    _, (*_, r4, _) = history(world)
    block = disclosure_block(attribute(r4))
    assert block["format"] == "aios-ai-disclosure/1"
    assert block["revision_id"] == r4.pk
    assert block["words"] == {"agent": 14, "edited": 7, "human": 3, "total": 24}
    assert block["ai_share"] == "0.5833" and block["ai_involved_share"] == "0.8750"
    assert [(s["heading"], s["ai_share"]) for s in block["sections"]] == [("Part 1", "0.4118"), ("Part 2", "1.0000")]


def test_a_text_a_person_replaced_whole_has_no_ai_share(world):
    draft = draft_in_review(world, content="## Part 1\n\nDraft text.")
    mine = draft_edit(draft=draft, user=world.editor, base_revision_id=draft.current_revision_id,
                      content="Completely new words from me.")
    result = attribute(mine)
    assert result.words == {AGENT: 0, EDITED: 5, HUMAN: 0}
    assert result.ai_share == Decimal("0.0000")


def test_a_new_revision_costs_one_word_diff_once_its_parent_was_attributed(world, monkeypatch):
    from editorial import attribution

    _, (*_, r4, r5) = history(world)
    attribute(r4)
    calls = []
    real = attribution.word_diff
    monkeypatch.setattr(attribution, "word_diff", lambda old, new: calls.append(1) or real(old, new))
    r6 = draft_edit(draft=Draft.objects.get(pk=r5.draft_id), user=world.editor, base_revision_id=r5.pk,
                    content=r5.content + " Thank you.")
    assert labels(r6)["Thank"] == HUMAN and len(calls) == 1  # r5 (a restore) came from r2's cached labels
    calls.clear()
    attribute(r6)
    assert calls == []  # now cached itself


def test_without_the_cache_the_attribution_is_the_same(world, monkeypatch):
    from editorial import attribution

    _, (*_, r4, r5) = history(world)
    expected = attribute(r4)

    class Down:
        def get_many(self, keys):
            raise ConnectionError("cache down")

        def set_many(self, values, timeout=None):
            raise ConnectionError("cache down")

    monkeypatch.setattr(attribution, "cache", Down())
    assert attribute(r4) == expected
