"""automake's `make check` result lines read into per-test outcomes (gold runs them in real containers: see
tests/generation/test_other_runners.py); here the reader's own rules, on output as automake prints it."""

from __future__ import annotations

from cligym.generation.runners.runner_report import parse_automake

# Two directories' harnesses in one `make check`, the TAP driver's per-result lines, and the summary block.
MAKE_CHECK = """make[2]: Entering directory '/repo/tests'
PASS: help-version
FAIL: zdiff
SKIP: needs-root
XFAIL: known-bug
XPASS: fixed-by-accident
ERROR: hard-error
PASS: t/parse.tap 1 - reads flags
FAIL: t/parse.tap 2 - reads numbers
============================================================================
Testsuite summary for gzip 1.12
============================================================================
# TOTAL: 8
# PASS:  2
# FAIL:  2
make[2]: Leaving directory '/repo/tests'
"""


def test_every_result_kind_and_no_summary_line() -> None:
    statuses = {outcome.test_id: outcome.status for outcome in parse_automake(MAKE_CHECK)}
    assert statuses == {
        "help-version": "passed",
        "zdiff": "failed",
        "needs-root": "skipped",
        "known-bug": "skipped",
        "fixed-by-accident": "failed",
        "hard-error": "error",
        "t/parse.tap 1 - reads flags": "passed",
        "t/parse.tap 2 - reads numbers": "failed",
    }


def test_a_stream_name_prefixes_the_ids() -> None:
    assert [o.test_id for o in parse_automake("PASS: a\n", "src")] == ["src::a"]
