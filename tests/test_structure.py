"""The house stays clean (issue 10): figures from tests/structure.py, which counts imports inside
functions too."""
from __future__ import annotations

from tests.structure import measure


def test_the_product_code_has_no_import_cycle_private_import_long_file_or_second_status_writer():
    figures = measure()
    details = figures["details"]
    assert details["cycles"] == [], "import cycles (a lazy import hides a cycle, it does not remove it)"
    assert details["private"] == [], "private names imported across modules: make the seam public"
    assert details["long_files"] == {}, "product files over 500 lines: split them by domain"
    assert set(details["status_writers"]) == {"editorial.transitions"}, "Draft.status has one writer"
    assert figures["files"] > 100  # the measure really walked the tree
