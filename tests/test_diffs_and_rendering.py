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


def test_findings_are_highlighted_in_place_in_the_rendered_draft():
    from types import SimpleNamespace

    from editorial.rendering import render_markdown_with_findings

    text = "## Offer\n\nResults **guaranteed** for 1. everyone <b>now</b>."
    start = text.index("guaranteed")
    finding = SimpleNamespace(start=start, end=start + 10, severity="blocking", message='banned "term" <x>')
    html = render_markdown_with_findings(text, [finding])
    assert '<strong><mark class="finding-mark sev-blocking" data-finding="0" title="banned &quot;term&quot; &lt;x&gt;">guaranteed</mark></strong>' in html
    assert "\ue000" not in html and "\ue001" not in html and "<h2>Offer</h2>" in html


def test_spans_across_lines_or_overlapping_are_not_highlighted_but_do_not_break_the_page():
    from types import SimpleNamespace

    from editorial.rendering import highlight_findings

    text = "one two\nthree <four>"
    across = SimpleNamespace(start=4, end=12, severity="warning", message="m")
    inner = SimpleNamespace(start=14, end=20, severity="info", message="m")
    overlapping = SimpleNamespace(start=15, end=18, severity="info", message="m")
    html = highlight_findings(text, [across, inner, overlapping])
    assert html.count("<mark") == 1 and "&lt;four&gt;" in html
