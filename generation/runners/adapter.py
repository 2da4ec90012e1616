"""One interface to every test runner a gold environment may have: the command that runs the suite and
leaves its report where we read it, and how per-test outcomes are read from that report. Gold, validation,
the agent inverter's tools and the exported verifiers all go through it, so they agree on every test id.

pytest is run with our report plugin (exact node ids; ``gold/dockerfile.py``). Any other runner's suite runs
as the spec's command, unchanged, its standard output kept as the stream (TAP, automake's result lines) or the
JUnit XML file it writes kept as the report; ``runner_report.py`` (shipped in every exported task) reads it.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cligym.errors import CligymError
from cligym.generation.repo_spec import RepoSpec, Runner
from cligym.generation.runners.runner_report import READERS, ReportError, report_of
from cligym.sandbox import Sandbox

if TYPE_CHECKING:  # the gold package imports this module: importing it here would be circular
    from cligym.generation.gold.junit import TestOutcome

RUNNER_DIR = "/tmp/cligym"
STREAM_PATH = f"{RUNNER_DIR}/runner-stream.txt"
STDERR_PATH = f"{RUNNER_DIR}/runner-stderr.txt"
RUNNER_REPORT_SCRIPT = "runner_report.py"
# make run without its built-in rules, and reading no makefile the environment names: an SCCS or RCS file
# (``s.maint.mk``) beside a makefile would have make "check it out" with ``get`` from PATH, inside the run,
# and ``MAKEFILES`` names makefiles to read before any other. Automake's makefiles declare every rule they use.
MAKE_ENVIRONMENT = "export MAKEFLAGS=-r MAKEFILES=; unset GNUMAKEFLAGS MFLAGS; "


@dataclass(frozen=True)
class SuiteRunner:
    """How one gold environment's suite is run and read (not pytest: see ``pytest_runner``)."""

    kind: Runner
    repo_path: str
    report: str | None = None

    @property
    def selects_tests(self) -> bool:
        """Whether a run can be limited to some tests (our pytest plugin can; another runner's command not)."""
        return self.kind == "pytest"

    def report_path(self, stream_path: str = STREAM_PATH) -> str:
        """Where the run leaves what is read: the spec's report file, else the captured standard output."""
        if self.report is None:
            return stream_path
        return posixpath.normpath(posixpath.join(self.repo_path, self.report))

    def run_command(self, base_command: str, stream_path: str = STREAM_PATH, stderr_path: str = STDERR_PATH) -> str:
        """``base_command`` run in a subshell, its standard output kept as the stream (and shown again after,
        for the logs), with no report from an earlier run left to stand in for this one's. The exit status is
        the suite's."""
        directory = posixpath.dirname(stream_path)
        stale = shlex.quote(self.report_path(stream_path))
        setup = MAKE_ENVIRONMENT if self.kind == "automake" else ""
        return (
            f"mkdir -p {shlex.quote(directory)} && rm -f {stale} {shlex.quote(stream_path)}; "
            f"( {setup}{base_command} ) > {shlex.quote(stream_path)} 2> {shlex.quote(stderr_path)}; cligym_status=$?; "
            f"cat {shlex.quote(stream_path)}; cat {shlex.quote(stderr_path)} >&2; exit $cligym_status"
        )

    def convert_command(self, python: str, script: str, report_json: str, stream_path: str = STREAM_PATH) -> str:
        """The verifier's shell line that turns the run's report into ours (``report_json``), with ``python``
        (gold's interpreter, isolated) running ``script`` (the shipped ``runner_report.py``)."""
        source = shlex.quote(self.report_path(stream_path))
        return f"{python} {shlex.quote(script)} {self.kind} {source} > {shlex.quote(report_json)}"

    def read(self, box: Sandbox, stream_path: str = STREAM_PATH) -> tuple[list[TestOutcome], bytes] | None:
        """Outcomes of the last run in ``box`` and the raw report they came from; None without a report."""
        try:
            raw = box.read_file(self.report_path(stream_path))
        except FileNotFoundError:
            return None
        try:
            outcomes = outcomes_from_report(self.kind, raw)
        except (CligymError, ValueError):
            return None
        return outcomes, raw


def outcomes_from_report(kind: Runner, raw: bytes) -> list[TestOutcome]:
    """Per-test outcomes of a runner's report, read exactly as the exported ``runner_report.py`` reads it."""
    from cligym.generation.gold.junit import parse_pytest_report

    try:
        outcomes = READERS[kind](raw.decode("utf-8", errors="replace"), "")
    except ReportError as exc:
        raise CligymError(str(exc)) from None
    return parse_pytest_report(json.dumps(report_of(outcomes)))


def suite_runner(spec: RepoSpec, repo_path: str) -> SuiteRunner | None:
    """The runner of ``spec``'s suite; None for pytest, which has its own path (report plugin, node ids)."""
    if spec.runner == "pytest":
        return None
    return SuiteRunner(spec.runner, repo_path, spec.report)
