"""Per-test outcomes of any test runner's report, as the report our pytest plugin writes
(``{"tests": {id: {"status", "duration_s", "message"}}}``), so that gold, validation and every exported
verifier read one format. Standard library only: exported tasks ship this file and run it in the container.

    python3 runner_report.py tap|junit|automake REPORT [STREAM] > report.json

TAP, the Test Anything Protocol (versions 12 to 14), is what `prove`, `node --test --test-reporter=tap`,
automake's TAP driver and many C and Perl suites print.

A test's id is its file (when the stream is one of several: ``prove -v`` headers, or the caller's name for
the stream) followed by its description, numbered when the description is empty or repeats, and by its
parents' names for TAP 14 subtests (``# Subtest: NAME`` or an indented block before its summary line). A test
whose plan promised it but that never reported (the stream stopped) is an error; ``Bail out!`` ends the stream.
A top-level comment naming a test (tape's ``# parses flags`` before that test's assertions) puts its name
before the ids of the results that follow, so an assertion's number counts within its test only.
``# SKIP`` is skipped; ``# TODO`` tests are expected to fail, so a failing TODO counts as skipped and a
passing one as passed, as TAP consumers treat them.

automake's test harness (``make check`` with the parallel driver, its TAP driver included) prints one line a
result, ``PASS: NAME``, ``FAIL:``, ``SKIP:``, ``XFAIL:`` (an expected failure: skipped), ``XPASS:`` (an
unexpected pass: failed) or ``ERROR:``; the test's id is NAME as printed (``tests/foo.tap 3 - desc`` under the
TAP driver). Lines of the ``Testsuite summary`` block (``# PASS:  12``) are not results.

JUnit XML is what jest and mocha reporters, Node's test runner, Maven Surefire, Gradle, CTest and
go-junit-report write (pytest's own dialect, with exact node ids, is read by ``cligym.generation.gold.junit``).

A test's id joins, with ``::``: the stream's name (when the caller gives one, e.g. the report's file), the
testcase's ``file`` attribute, the names of the test suites it sits in (below a ``<testsuites>`` root; a lone
``<testsuite>`` root is the run itself, as CTest writes it), its ``classname`` where that says something
(not the test's own name, not its suite's, not one word every suite shares, like Node's ``test``), and its
name. The same id twice is numbered (``name [2]``). A ``<skipped>`` case is skipped even when it also failed
(Node marks TODO tests so), an ``<error>`` an error, a ``<failure>`` failed.
"""

from __future__ import annotations

import sys

# Pure Python instead of the C accelerators: the verifier checks these modules' sources (the gold record's
# harness lists every module this script imports), and an accelerator an agent replaced would run unchecked.
for _accelerator in ("_json", "_elementtree"):
    sys.modules[_accelerator] = None  # type: ignore[assignment]

import json  # noqa: E402
import re  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import NamedTuple  # noqa: E402


class Outcome(NamedTuple):
    test_id: str
    status: str  # passed, failed, error or skipped
    duration_s: float = 0.0
    message: str = ""


class ReportError(ValueError):
    """A report that cannot be read (not XML, ...)."""


_RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*?)\s*$")
_PLAN = re.compile(r"^1\.\.(\d+)(?:\s*#.*)?$")
_DIRECTIVE = re.compile(r"(?:^|\s+)#\s*(SKIP|TODO)\b\S*\s*(.*)$", re.IGNORECASE)
_SUBTEST = re.compile(r"^#\s*Subtest:\s*(.*?)\s*$")
# tape (and TAP producers like it) name each test in a comment before its assertions: ``# parses flags``.
# A diagnostic is indented after the ``#`` (Test::More's ``#   Failed test``); a run's summary is not a name.
_GROUP_COMMENT = re.compile(
    r"^#\s(?!\s)(?!(?:tests|suites|pass|fail|failed|cancelled|skipped|skip|todo|duration_ms|ok)\b)(.+?)\s*$"
)
_PROVE_HEADER = re.compile(r"^(\S+?\.(?:t|js|mjs|cjs|sh|pl|py|test))\s*\.{2,}\s*$")


@dataclass
class _Level:
    indent: int
    names: list[str]
    planned: int | None = None
    seen: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    pending_subtest: str | None = None
    group: str | None = None  # the test a top-level comment named last (tape's ``# name``)


def parse_tap(text: str, stream: str = "") -> list[Outcome]:
    """Outcomes of one TAP stream; ``stream`` (a file name) prefixes the ids when the stream names no files."""
    outcomes: dict[str, Outcome] = {}
    levels = [_Level(0, [stream] if stream else [])]
    last: str | None = None
    yaml_indent: int | None = None
    error_follows = False  # the YAML ``error: |-`` block's first line is the message
    # Lines end at newlines only: str.splitlines() also ends them at a carriage return (and at \x0b, \x0c,
    # \x1c-\x1e, \x85, \u2028, \u2029), which a test's own output could use to start a line of its own
    # outside its file's nesting and forge other files' results.
    for raw in text.split("\n"):
        line = raw.rstrip()
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if yaml_indent is not None:  # a result's YAML diagnostics, up to its "..." line
            if stripped == "..." and indent <= yaml_indent:
                yaml_indent = None
            elif last and error_follows and stripped:
                outcomes[last] = outcomes[last]._replace(message=stripped[:500])
                error_follows = False
            elif last and stripped.startswith("duration_ms:"):
                outcomes[last] = _with_duration(outcomes[last], stripped)
            elif last and stripped.startswith("error:") and not outcomes[last].message:
                error = stripped.removeprefix("error:").strip().strip("'\"")
                error_follows = error in ("|-", "|", ">-", ">")
                if not error_follows:
                    outcomes[last] = outcomes[last]._replace(message=error[:500])
            continue
        if not stripped:
            continue
        if stripped == "---" and last is not None:
            yaml_indent = indent
            continue
        header = _PROVE_HEADER.match(line)
        if header and indent == 0:
            for level in reversed(levels):
                _close(level, outcomes)
            levels = [_Level(0, [header.group(1)])]
            continue
        if stripped.startswith("Bail out!"):
            break
        subtest = _SUBTEST.match(stripped)
        if subtest:
            _level_for(levels, indent).pending_subtest = subtest.group(1)
            continue
        group = _GROUP_COMMENT.match(stripped)
        if group and len(levels) == 1 and indent == 0:
            levels[0].group = group.group(1)
            continue
        plan = _PLAN.match(stripped)
        if plan:
            _level_for(levels, indent).planned = int(plan.group(1))
            continue
        result = _RESULT.match(stripped)
        if not result:
            continue
        # A result less indented than the open subtest block is that block's summary line: close it.
        while len(levels) > 1 and levels[-1].indent > indent:
            _close(levels.pop(), outcomes)
        level = _level_for(levels, indent)
        if (
            not result.group(2)
            and not result.group(3)
            and level.planned is not None
            and len(level.seen) >= level.planned
        ):
            continue  # prove's own verdict on a file ("ok" alone once every planned test reported)
        number = int(result.group(2)) if result.group(2) else len(level.seen) + 1
        level.seen.add(number)
        description, directive, reason = _split_directive(result.group(3))
        level.pending_subtest = None
        test_id = "::".join(
            [*level.names, *([level.group] if level.group else []), _unique(level, description or f"test {number}")]
        )
        status = _tap_status(result.group(1) == "ok", directive)
        children = [outcome for key, outcome in outcomes.items() if key.startswith(f"{test_id}::")]
        # A parent's result only repeats its subtests', unless it failed on its own (a hook, a timeout).
        if children and (status == "passed" or any(child.status != "passed" for child in children)):
            last = None
            continue
        outcomes[test_id] = Outcome(test_id=test_id, status=status, duration_s=0.0, message=reason[:500])
        last = test_id
    for level in reversed(levels):
        _close(level, outcomes)
    return list(outcomes.values())


def _with_duration(outcome: Outcome, line: str) -> Outcome:
    try:
        seconds = float(line.split(":", 1)[1]) / 1000
    except ValueError:
        return outcome
    return outcome._replace(duration_s=seconds)


def _level_for(levels: list[_Level], indent: int) -> _Level:
    """The level at ``indent``, opening a subtest level when deeper: named by the parent's ``# Subtest:``
    line, else by the number its summary line will have."""
    if indent > levels[-1].indent:
        parent = levels[-1]
        name = parent.pending_subtest or f"test {len(parent.seen) + 1}"
        levels.append(_Level(indent, [*parent.names, name]))
    return levels[-1]


def _close(level: _Level, outcomes: dict[str, Outcome]) -> None:
    """Tests the plan promised that never reported: the stream stopped before them."""
    if level.planned is None:
        return
    for number in range(1, level.planned + 1):
        if number not in level.seen:
            test_id = "::".join([*level.names, f"test {number}"])
            message = "planned but never reported (the run stopped)"
            outcomes[test_id] = Outcome(test_id=test_id, status="error", duration_s=0.0, message=message)
    level.planned = None


def _split_directive(text: str) -> tuple[str, str | None, str]:
    found = _DIRECTIVE.search(text)
    if not found:
        return text.strip(), None, ""
    return text[: found.start()].strip(), found.group(1).upper(), found.group(2).strip()


def _unique(level: _Level, name: str) -> str:
    """``name``, numbered from its second use within its group: ids of one test do not move when another
    test stops early."""
    key = f"{level.group}\0{name}"
    count = level.counts.get(key, 0) + 1
    level.counts[key] = count
    return name if count == 1 else f"{name} [{count}]"


def _tap_status(ok: bool, directive: str | None) -> str:
    if directive == "SKIP":
        return "skipped"
    if directive == "TODO":
        return "passed" if ok else "skipped"
    return "passed" if ok else "failed"


def parse_junit_xml(xml_text: str | bytes, stream: str = "") -> list[Outcome]:
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise ReportError(f"the JUnit report {stream or ''} is not valid XML: {exc}".replace("  ", " ")) from None
    cases = _cases(root, [])
    # Names that say nothing about one case: a classname shared by every suite, the lone root suite's name.
    vague = {_shared_classname(cases), root.get("name") if root.tag == "testsuite" else None}
    outcomes: list[Outcome] = []
    seen: Counter[str] = Counter()
    for suites, case in cases:
        name = case.get("name", "")
        classname = case.get("classname", "")
        parts = [part for part in (stream, case.get("file", "")) if part]
        parts += [suite for suite in suites if suite not in parts]
        if classname and classname not in (name, *suites[-1:]) and classname not in vague | set(parts):
            parts.append(classname)
        test_id = "::".join([*parts, name])
        seen[test_id] += 1
        if seen[test_id] > 1:
            test_id = f"{test_id} [{seen[test_id]}]"
        outcomes.append(Outcome(test_id, _junit_status(case), _seconds(case.get("time")), _message(case)))
    return outcomes


def _cases(element: ET.Element, suites: list[str]) -> list[tuple[list[str], ET.Element]]:
    """Every testcase below ``element`` with the names of the suites between them (the root not counted)."""
    found: list[tuple[list[str], ET.Element]] = []
    for child in element:
        if child.tag == "testcase":
            found.append((suites, child))
        elif child.tag == "testsuite":
            name = child.get("name", "")
            found += _cases(child, [*suites, name] if name else suites)
    return found


def _shared_classname(cases: list[tuple[list[str], ET.Element]]) -> str | None:
    """A classname every case has across two or more suites says nothing about any of them."""
    classnames = {case.get("classname", "") for _, case in cases}
    suites = {tuple(suites) for suites, _ in cases}
    return next(iter(classnames)) if len(classnames) == 1 and len(suites) > 1 else None


def _junit_status(case: ET.Element) -> str:
    if case.find("skipped") is not None:
        return "skipped"
    if case.find("error") is not None:
        return "error"
    if case.find("failure") is not None:
        return "failed"
    return "passed"


def _message(case: ET.Element) -> str:
    for tag in ("error", "failure", "skipped"):
        element = case.find(tag)
        if element is not None:
            return (element.get("message") or (element.text or "").strip())[:500]
    return ""


def _seconds(value: str | None) -> float:
    try:
        return float(value or 0.0)
    except ValueError:
        return 0.0


_AUTOMAKE_RESULT = re.compile(r"^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR): (\S.*?)\s*$")
_AUTOMAKE_STATUS = {
    "PASS": "passed",
    "FAIL": "failed",
    "SKIP": "skipped",
    "XFAIL": "skipped",
    "XPASS": "failed",
    "ERROR": "error",
}


def parse_automake(text: str, stream: str = "") -> list[Outcome]:
    """Outcomes of automake's ``make check`` output (several directories' harnesses may print into it)."""
    outcomes: list[Outcome] = []
    for line in text.split("\n"):  # newlines only, as in parse_tap
        found = _AUTOMAKE_RESULT.match(line.strip())
        if found:
            name = f"{stream}::{found[2]}" if stream else found[2]
            outcomes.append(Outcome(name, _AUTOMAKE_STATUS[found[1]]))
    return outcomes


def report_of(outcomes: list[Outcome]) -> dict:
    """The report our pytest plugin writes, for these outcomes (a repeated id keeps its worst status)."""
    severity = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
    tests: dict[str, dict] = {}
    for outcome in outcomes:
        previous = tests.get(outcome.test_id)
        if previous is None or severity[outcome.status] > severity[previous["status"]]:
            tests[outcome.test_id] = {
                "status": outcome.status,
                "duration_s": outcome.duration_s,
                "message": outcome.message,
            }
    return {"tests": tests}


READERS = {
    "tap": lambda text, stream: parse_tap(text, stream),
    "junit": lambda text, stream: parse_junit_xml(text, stream),
    "automake": lambda text, stream: parse_automake(text, stream),
}


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4) or argv[1] not in READERS:
        print(f"usage: {argv[0]} {'|'.join(READERS)} REPORT [STREAM]", file=sys.stderr)
        return 2
    try:
        with open(argv[2], encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        outcomes = READERS[argv[1]](text, argv[3] if len(argv) == 4 else "")
    except (OSError, ReportError) as exc:
        print(f"runner_report: {exc}", file=sys.stderr)
        outcomes = []  # no readable report: every required test is missing, so the reward is 0
    json.dump(report_of(outcomes), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
