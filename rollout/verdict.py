"""What a verifier's files say, read the same way wherever they come from (an episode's container, a Harbor
trial directory): the reward, each required test's status from our pytest report, the harness differences
the check named. Pure functions over text."""

from __future__ import annotations

from cligym.errors import CligymError
from cligym.generation.gold.harness import HARNESS_PREFIX
from cligym.generation.gold.junit import parse_pytest_report
from cligym.rollout.trajectory import TestStatus


def reward_of(text: str) -> float | None:
    """The reward in a ``reward.txt`` (its last line), None when there is none or it is not a number."""
    text = text.strip()
    try:
        return float(text.splitlines()[-1]) if text else None
    except ValueError:
        return None


def outcomes_of(report: str | bytes) -> dict[str, str]:
    """Node id -> outcome from our report plugin's JSON; empty when the report is missing or unreadable."""
    if not report:
        return {}
    try:
        return {outcome.test_id: outcome.status for outcome in parse_pytest_report(report)}
    except CligymError:
        return {}


def required_statuses(outcomes: dict[str, str], required: list[str]) -> dict[str, TestStatus]:
    """Each required test's status: passed, failed (any other outcome) or missing from the run."""
    statuses: dict[str, TestStatus] = {}
    for test in required:
        status = outcomes.get(test)
        statuses[test] = "missing" if status is None else "passed" if status == "passed" else "failed"
    return statuses


def harness_differences(text: str) -> list[str]:
    """The harness files the check named in ``harness.txt``, without its prefix."""
    return [line.removeprefix(HARNESS_PREFIX) for line in text.splitlines() if line.startswith(HARNESS_PREFIX)]
