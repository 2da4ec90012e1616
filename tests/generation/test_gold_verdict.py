"""The verdict read from a verifier's real files (saved under tests/fixtures/verifier from runs of the
inventory task's exported test.sh: after the oracle's repair, with the break left, and after a hack that
patched pytest): the same reading serves validation, the inverter's test tool, episodes and Harbor imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cligym.generation.gold.junit import parse_pytest_report
from cligym.generation.gold.verdict import (
    changed_files,
    failing_tests,
    failure_messages,
    harness_differences,
    outcomes_of,
    required_statuses,
    reward_of,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "verifier"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
REQUIRED = [*EXPECTED["fail_to_pass"], *EXPECTED["pass_to_pass"]]


def verdict(case: str) -> tuple[float | None, dict[str, str], list[str]]:
    files = FIXTURES / case
    statuses = required_statuses(outcomes_of((files / "pytest-report.json").read_bytes()), REQUIRED)
    return (
        reward_of((files / "reward.txt").read_text()),
        dict(statuses),
        harness_differences((files / "harness.txt").read_text()),
    )


def test_a_repaired_run_passes_every_required_test() -> None:
    reward, statuses, harness = verdict("repaired")
    assert reward == 1.0 and harness == []
    assert set(statuses) == set(REQUIRED) and set(statuses.values()) == {"passed"}


def test_the_broken_run_leaves_the_fail_to_pass_tests_missing_and_the_rest_passing() -> None:
    reward, statuses, harness = verdict("broken")
    assert reward == 0.0 and harness == []
    # Their module failed to import: the report has a collection error for the file, not the tests.
    assert {statuses[test] for test in EXPECTED["fail_to_pass"]} == {"missing"}
    assert {statuses[test] for test in EXPECTED["pass_to_pass"]} == {"passed"}


def test_a_patched_pytest_is_named_without_its_prefix() -> None:
    reward, _, harness = verdict("harness-modified")
    assert reward == 0.0
    assert harness == ["/usr/local/lib/python3.11/dist-packages/_pytest/reports.py (modified)"]


@pytest.mark.parametrize(
    ("text", "expected"), [("1\n", 1.0), ("0", 0.0), ("", None), ("  \n", None), ("nan-ish", None), ("0\n1\n", 1.0)]
)
def test_reward_text(text: str, expected: float | None) -> None:
    assert reward_of(text) == expected


def test_a_missing_or_unreadable_report_has_no_outcomes() -> None:
    assert outcomes_of(b"") == {} and outcomes_of("{not json") == {}
    statuses = required_statuses({"a": "passed", "b": "skipped"}, ["a", "b", "c"])
    assert statuses == {"a": "passed", "b": "failed", "c": "missing"}


def test_the_failing_set_and_each_failures_message_come_from_the_report() -> None:
    report = parse_pytest_report((FIXTURES / "broken" / "pytest-report.json").read_bytes())
    failing = failing_tests(report, REQUIRED)
    assert failing == set(EXPECTED["fail_to_pass"])
    # The tests never ran: each gets its module's collection error, which names the import that failed.
    messages = failure_messages(report, failing)
    assert set(messages) == failing
    assert all("importtestmodule" in message for message in messages.values())
    repaired = parse_pytest_report((FIXTURES / "repaired" / "pytest-report.json").read_bytes())
    assert failing_tests(repaired, REQUIRED) == set() and failure_messages(repaired, REQUIRED) == {}


def test_without_a_report_every_test_fails() -> None:
    assert failing_tests(None, ["a", "b"]) == {"a", "b"}


def test_tracked_files_changed_or_gone_are_named() -> None:
    gold = {"src/a.py": "1", "src/b.py": "2", "tests/c.py": "3"}
    assert changed_files(gold, {"src/a.py": "1", "src/b.py": "9", "extra.py": "4"}) == ["src/b.py", "tests/c.py"]
    assert changed_files(gold, dict(gold)) == []
