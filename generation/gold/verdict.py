"""What a test run says, read the same way wherever it ran: generation's validation and the inverter's test
tool (a container of ours), an episode's verifier, a Harbor trial directory. Pure functions over the run's
files and outcomes: the reward text, each required test's status, the gold tests that did not pass and why,
the tracked files no longer gold's, the harness differences the check named."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from cligym.errors import CligymError
from cligym.generation.gold.harness import HARNESS_PREFIX
from cligym.generation.gold.junit import TestOutcome, parse_pytest_report

# A required test in a verifier's run: passed, failed (any other outcome) or missing from the run.
RequiredStatus = Literal["passed", "failed", "missing"]


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


def required_statuses(outcomes: Mapping[str, str], required: Iterable[str]) -> dict[str, RequiredStatus]:
    """Each required test's status: passed, failed (any other outcome) or missing from the run."""
    statuses: dict[str, RequiredStatus] = {}
    for test in required:
        status = outcomes.get(test)
        statuses[test] = "missing" if status is None else "passed" if status == "passed" else "failed"
    return statuses


def failing_tests(outcomes: Sequence[TestOutcome] | None, tests: Iterable[str]) -> set[str]:
    """The tests that did not pass: every one of them when the run wrote no readable report."""
    wanted = set(tests)
    if outcomes is None:
        return wanted
    return wanted - {outcome.test_id for outcome in outcomes if outcome.status == "passed"}


def failure_messages(outcomes: Sequence[TestOutcome], tests: Iterable[str]) -> dict[str, str]:
    """Each test's error; a test that never ran because its module failed to import gets the module's
    collection error. Tests without any message are left out."""
    by_id = {outcome.test_id: outcome.message for outcome in outcomes}
    messages = {}
    for test in tests:
        message = by_id.get(test) or by_id.get(test.split("::", 1)[0], "")
        if message:
            messages[test] = message
    return messages


def changed_files(gold: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """The tracked files whose content digest is not gold's any more, or that are gone."""
    return sorted(path for path, digest in gold.items() if current.get(path) != digest)


def harness_differences(text: str) -> list[str]:
    """The harness files the check named in ``harness.txt``, without its prefix."""
    return [line.removeprefix(HARNESS_PREFIX) for line in text.splitlines() if line.startswith(HARNESS_PREFIX)]
