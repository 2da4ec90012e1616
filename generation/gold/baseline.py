"""Which tests are gold: the verdict over two runs of the suite, as a pure function."""

from __future__ import annotations

from dataclasses import dataclass

from cligym.errors import CligymError
from cligym.generation.gold.record import SuiteRun


class GoldBuildError(CligymError):
    """The project cannot become a gold environment (no tests, all failing, flaky, too big...)."""


@dataclass(frozen=True)
class BaselineVerdict:
    gold: list[str]
    flaky: list[str]
    failing: list[str]
    skipped: list[str]


def judge_baseline(name: str, first: SuiteRun, second: SuiteRun) -> BaselineVerdict:
    """A test is gold when it passed in both runs; flaky when it passed in only one.

    Raises GoldBuildError when no test ran, none passed, or most of those that passed once are flaky.
    """
    one, two = first.status_by_test(), second.status_by_test()
    if not one:
        raise GoldBuildError(
            f"{name}: no tests were collected",
            "check test_paths / pytest_args in the repo spec (and that the sdist ships its tests)",
        )
    tests = sorted(set(one) | set(two))
    gold = [t for t in tests if one.get(t) == "passed" and two.get(t) == "passed"]
    flaky = [t for t in tests if (one.get(t) == "passed") != (two.get(t) == "passed")]
    failing = [t for t in tests if one.get(t) in ("failed", "error") and two.get(t) in ("failed", "error")]
    skipped = [t for t in tests if t not in gold and t not in flaky and t not in failing]
    if not gold and not flaky:
        raise GoldBuildError(
            f"{name}: all {len(tests)} tests fail in the gold environment",
            "missing test dependencies or system packages? see the saved JUnit reports and pytest output",
        )
    if len(flaky) > len(gold):
        raise GoldBuildError(
            f"{name}: {len(flaky)} of {len(gold) + len(flaky)} passing tests are flaky across two runs",
            "deselect order-dependent or networked tests with pytest_args in the repo spec",
        )
    return BaselineVerdict(gold=gold, flaky=flaky, failing=failing, skipped=skipped)
