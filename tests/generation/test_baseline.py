"""Which tests are gold, judged over two runs (pure)."""

from __future__ import annotations

import pytest

from cligym.generation.gold.baseline import GoldBuildError, judge_baseline
from cligym.generation.gold.junit import TestOutcome
from cligym.generation.gold.record import SuiteRun


def run(**statuses: str) -> SuiteRun:
    outcomes = [TestOutcome(test_id=name, status=status, duration_s=0.1) for name, status in statuses.items()]
    return SuiteRun(exit_code=0, duration_s=1.0, timed_out=False, outcomes=outcomes)


def test_gold_means_passed_twice_and_flaky_means_passed_once() -> None:
    verdict = judge_baseline(
        "demo",
        run(a="passed", b="passed", c="failed", d="skipped", e="passed"),
        run(a="passed", b="failed", c="failed", d="skipped", e="passed"),
    )
    assert verdict.gold == ["a", "e"]
    assert verdict.flaky == ["b"]
    assert verdict.failing == ["c"]
    assert verdict.skipped == ["d"]


def test_no_tests_is_an_error() -> None:
    with pytest.raises(GoldBuildError, match="no tests were collected"):
        judge_baseline("demo", run(), run())


def test_all_failing_is_an_error() -> None:
    with pytest.raises(GoldBuildError, match="all 2 tests fail"):
        judge_baseline("demo", run(a="failed", b="error"), run(a="failed", b="error"))


def test_flaky_majority_is_an_error() -> None:
    with pytest.raises(GoldBuildError, match="2 of 3 passing tests are flaky"):
        judge_baseline("demo", run(a="passed", b="passed", c="failed"), run(a="passed", b="failed", c="passed"))
