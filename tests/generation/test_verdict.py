"""The exported verifier's verdict (pure): reward 1 only when every required test passed."""

from __future__ import annotations

from cligym.generation.export.verdict import reward

EXPECTED = {"fail_to_pass": ["t.py::a"], "pass_to_pass": ["t.py::b"]}


def report(**statuses: str) -> dict:
    return {"tests": {f"t.py::{name}": {"status": status} for name, status in statuses.items()}}


def test_all_required_tests_passing_earns_1() -> None:
    assert reward(EXPECTED, report(a="passed", b="passed", c="failed")) == 1


def test_a_failing_fail_to_pass_test_earns_0() -> None:
    assert reward(EXPECTED, report(a="failed", b="passed")) == 0


def test_a_broken_pass_to_pass_test_earns_0() -> None:
    assert reward(EXPECTED, report(a="passed", b="error")) == 0


def test_a_skipped_or_missing_test_earns_0() -> None:
    assert reward(EXPECTED, report(a="skipped", b="passed")) == 0
    assert reward(EXPECTED, report(b="passed")) == 0
    assert reward(EXPECTED, {}) == 0
