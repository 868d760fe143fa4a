from __future__ import annotations

from editorial.diffs import word_diff
from editorial.rendering import render_markdown


def test_word_diff_marks_changed_words_only():
    diff = word_diff("The quick brown fox jumps.", "The quick red fox leaps high.")
    ops = [(op.op, op.text) for op in diff.ops if op.op != "equal"]
    assert ops == [("delete", "brown"), ("insert", "red"), ("delete", "jumps"), ("insert", "leaps high")]
    assert (diff.words_added, diff.words_removed) == (3, 2)
    assert "".join(op.text for op in diff.ops if op.op != "delete") == "The quick red fox leaps high."


def test_identical_texts_have_no_changes():
    diff = word_diff("same words", "same words")
    assert [op.op for op in diff.ops] == ["equal"] and diff.words_added == diff.words_removed == 0


def test_model_output_cannot_inject_html():
    html = render_markdown('## Hi\n\n<script>alert(1)</script><img src=x onerror=alert(1)> [x](javascript:alert(1)) **ok**')
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html
    assert "<h2>Hi</h2>" in html and "<strong>ok</strong>" in html
