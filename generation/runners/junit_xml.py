"""Per-test outcomes from the JUnit XML any runner writes (jest and mocha reporters, Node's test runner,
Maven Surefire, Gradle, CTest, go-junit-report...). pytest's own dialect, with exact node ids, is read by
``cligym.generation.gold.junit``.

A test's id joins, with ``::``: the stream's name (when the caller gives one, e.g. the report's file), the
testcase's ``file`` attribute, the names of the test suites it sits in (below a ``<testsuites>`` root; a lone
``<testsuite>`` root is the run itself, as CTest writes it), its ``classname`` where that says something
(not the test's own name, not its suite's, not one word every suite shares, like Node's ``test``), and its
name. The same id twice is numbered (``name [2]``). A ``<skipped>`` case is skipped even when it also failed
(Node marks TODO tests so), an ``<error>`` an error, a ``<failure>`` failed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

from cligym.errors import CligymError
from cligym.generation.gold.junit import TestOutcome, TestStatus


def parse_junit_xml(xml_text: str | bytes, stream: str = "") -> list[TestOutcome]:
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise CligymError(f"the JUnit report {stream or ''} is not valid XML: {exc}".replace("  ", " ")) from None
    cases = _cases(root, [])
    # Names that say nothing about one case: a classname shared by every suite, the lone root suite's name.
    vague = {_shared_classname(cases), root.get("name") if root.tag == "testsuite" else None}
    outcomes: list[TestOutcome] = []
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
        outcomes.append(
            TestOutcome(
                test_id=test_id, status=_status(case), duration_s=_seconds(case.get("time")), message=_message(case)
            )
        )
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


def _status(case: ET.Element) -> TestStatus:
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
