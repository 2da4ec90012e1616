"""Per-test outcomes of a pytest run: from our plugin's JSON report, or from JUnit XML (xunit1)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Literal

from pydantic import BaseModel, ConfigDict

from cligym.errors import CligymError

TestStatus = Literal["passed", "failed", "error", "skipped"]


class TestOutcome(BaseModel):
    """One test's status in one run."""

    __test__ = False  # a data model, not a pytest test class
    model_config = ConfigDict(frozen=True)

    test_id: str
    status: TestStatus
    duration_s: float
    message: str = ""


def parse_junit(xml_text: str | bytes) -> list[TestOutcome]:
    """Outcomes keyed by pytest node id (``path/to/test_x.py::Class::test_name[param]``).

    A test reported twice (pytest reports a teardown error as a second entry) keeps its worst status.
    """
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise CligymError(f"the JUnit report is not valid XML: {exc}") from None
    outcomes: dict[str, TestOutcome] = {}
    for case in root.iter("testcase"):
        outcome = TestOutcome(
            test_id=junit_node_id(case.get("file"), case.get("classname", ""), case.get("name", "")),
            status=_status(case),
            duration_s=float(case.get("time") or 0.0),
            message=_message(case),
        )
        previous = outcomes.get(outcome.test_id)
        if previous is None or _SEVERITY[outcome.status] > _SEVERITY[previous.status]:
            outcomes[outcome.test_id] = outcome
    return list(outcomes.values())


_SEVERITY = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def parse_pytest_report(json_text: str | bytes) -> list[TestOutcome]:
    """Outcomes from the report our pytest plugin writes (exact node ids, worst status per test)."""
    try:
        data = json.loads(json_text)
        return [
            TestOutcome(
                test_id=node_id,
                status=entry["status"],
                duration_s=entry["duration_s"],
                message=_storable(entry["message"]),
            )
            for node_id, entry in data["tests"].items()
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise CligymError(f"the pytest report is malformed: {exc}") from None


def _storable(text: str) -> str:
    """``text`` as records can store it: JSON carries a failure message's lone surrogates (a test decoding
    ``"\\ud800"`` prints it) as escapes that decode to no UTF-8; pairs are joined, a lone one becomes U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def junit_node_id(file: str | None, classname: str, name: str) -> str:
    """Rebuild pytest's node id from a JUnit testcase's file, classname and name.

    pytest writes classname as the dotted module path (from the rootdir) followed by the class names,
    so the part after the module path is the class chain.
    """
    if not file:
        module, _, cls = classname.rpartition(".")
        return f"{module.replace('.', '/')}.py::{cls}::{name}" if module else f"{classname}::{name}"
    module = file.removesuffix(".py").replace("/", ".")
    if classname == module:
        return f"{file}::{name}"
    if classname.startswith(module + "."):
        classes = classname[len(module) + 1 :].split(".")
        return "::".join([file, *classes, name])
    # Doctests and other non-Python items report their own classname; the file is still exact.
    return f"{file}::{name}"


def _status(case: ET.Element) -> TestStatus:
    if case.find("error") is not None:
        return "error"
    if case.find("failure") is not None:
        return "failed"
    if case.find("skipped") is not None:
        return "skipped"
    return "passed"


def _message(case: ET.Element) -> str:
    for tag in ("error", "failure", "skipped"):
        element = case.find(tag)
        if element is not None:
            return (element.get("message") or element.text or "")[:500]
    return ""
