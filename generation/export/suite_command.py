"""What an exported verifier runs to judge the repository: the gold suite through its runner's adapter
(pytest with our report plugin, pinned to gold's setup; any other runner's own command, its report turned
into ours by the shipped ``runner_report.py``), leaving our report where ``verdict.py`` reads it."""

from __future__ import annotations

from dataclasses import dataclass

from cligym.generation.gold.dockerfile import pytest_run_command
from cligym.generation.gold.record import GoldRecord
from cligym.generation.runners.adapter import RUNNER_REPORT_SCRIPT

REPORT_NAME = "pytest-report.json"


@dataclass(frozen=True)
class VerifierRun:
    """``command`` runs the suite (on the task's PATH, in the repository); ``convert`` (empty for pytest)
    then writes ``report``, with the verifier's own interpreter."""

    command: str
    convert: str
    report: str
    selects_tests: bool


def verifier_run(gold: GoldRecord, tests_dir: str, logs: str, python: str) -> VerifierRun:
    report = f"{logs}/{REPORT_NAME}"
    runner = gold.runner
    if runner is None:
        command = pytest_run_command(
            gold.base_test_command,
            plugin_dir=tests_dir,
            report_path=report,
            junit_path=f"{logs}/junit.xml",
            setup=gold.pytest_setup,
        )
        return VerifierRun(command, "", report, selects_tests=True)
    stream = f"{logs}/runner-stream.txt"
    command = runner.run_command(gold.base_test_command, stream_path=stream, stderr_path=f"{logs}/runner-stderr.txt")
    convert = runner.convert_command(python, f"{tests_dir}/{RUNNER_REPORT_SCRIPT}", report, stream_path=stream)
    return VerifierRun(command, convert + "\n", report, selects_tests=False)
