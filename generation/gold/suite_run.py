"""One run of a project's test suite in a sandbox, read back as per-test outcomes."""

from __future__ import annotations

import contextlib
from importlib import resources

from cligym.errors import CligymError
from cligym.generation.gold.dockerfile import (
    JUNIT_PATH,
    PYTEST_PLUGIN_DIR,
    PYTEST_PLUGIN_MODULE,
    PYTEST_REPORT_PATH,
)
from cligym.generation.gold.junit import TestOutcome, parse_junit, parse_pytest_report
from cligym.generation.runners.adapter import SuiteRunner
from cligym.sandbox import ExecResult, Sandbox

SELECT_PLUGIN_MODULE = "cligym_select_tests"


def install_select_plugin(box: Sandbox) -> None:
    """The plugin that runs only the node ids listed in ``$CLIGYM_SELECT_TESTS``, beside the report plugin."""
    plugin = resources.files("cligym.generation").joinpath("export/select_plugin.py").read_text()
    box.write_file(f"{PYTEST_PLUGIN_DIR}/{SELECT_PLUGIN_MODULE}.py", plugin)


def install_report_plugin(box: Sandbox) -> None:
    """Put our pytest plugin where the test command's PYTHONPATH points (never into site-packages)."""
    plugin = resources.files("cligym.generation.gold").joinpath("pytest_report_plugin.py").read_text()
    box.write_file(f"{PYTEST_PLUGIN_DIR}/{PYTEST_PLUGIN_MODULE}.py", plugin)


def read_outcomes(
    box: Sandbox, runner: SuiteRunner | None = None
) -> tuple[list[TestOutcome], bytes | None, bytes | None] | None:
    """Outcomes from the plugin's report, else from JUnit XML; with both raw reports. None if neither exists
    or can be read (a broken environment may cut a report short, e.g. under a file-size limit). With
    another ``runner`` than pytest: its report's outcomes, and that report as the second item."""
    if runner is not None:
        read = runner.read(box)
        return None if read is None else (read[0], read[1], None)
    report = junit = None
    with contextlib.suppress(FileNotFoundError):
        report = box.read_file(PYTEST_REPORT_PATH)
    with contextlib.suppress(FileNotFoundError):
        junit = box.read_file(JUNIT_PATH)
    for raw, parse in ((report, parse_pytest_report), (junit, parse_junit)):
        if raw is None:
            continue
        try:
            return parse(raw), report, junit
        except (CligymError, ValueError):
            continue
    return None


def run_suite(box: Sandbox, test_command: str, workdir: str, timeout: float) -> ExecResult:
    install_report_plugin(box)
    return box.exec(test_command, timeout=timeout, workdir=workdir)
