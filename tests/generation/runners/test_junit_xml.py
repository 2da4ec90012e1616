"""JUnit XML as real runners write it (Node's test runner, CTest), read into per-test outcomes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cligym.generation.runners.runner_report import ReportError, parse_junit_xml
from tests.generation.runners.test_tap import NODE_TESTS


def statuses(xml: str | bytes, stream: str = "") -> dict[str, str]:
    return {outcome.test_id: outcome.status for outcome in parse_junit_xml(xml, stream)}


def test_node_test_runner_junit(tmp_path: Path) -> None:
    assert shutil.which("node"), "Node.js is on this machine"
    (tmp_path / "math.test.js").write_text(NODE_TESTS)
    subprocess.run(
        ["node", "--test", "--test-reporter=junit", "--test-reporter-destination=report.xml", "math.test.js"],
        cwd=tmp_path, capture_output=True, check=False,
    )  # fmt: skip
    outcomes = {o.test_id: o for o in parse_junit_xml((tmp_path / "report.xml").read_bytes(), "math.test.js")}
    # Node names no file and gives every case the classname "test": the suite (parent test) and name remain.
    assert {test_id: outcome.status for test_id, outcome in outcomes.items()} == {
        "math.test.js::math::adds": "passed",
        "math.test.js::math::subtracts": "failed",
        "math.test.js::plain": "passed",
        "math.test.js::plain [2]": "passed",
        "math.test.js::skipped one": "skipped",
        "math.test.js::todo one": "skipped",  # a TODO that fails is marked skipped as well
    }
    assert "strictly equal" in outcomes["math.test.js::math::subtracts"].message
    # The same ids as Node's TAP stream gives for the same tests.
    from cligym.generation.runners.runner_report import parse_tap

    tap = subprocess.run(
        ["node", "--test", "--test-reporter=tap", "math.test.js"], cwd=tmp_path, capture_output=True, text=True
    )
    assert {o.test_id for o in parse_tap(tap.stdout, "math.test.js")} == set(outcomes)


def test_ctest_junit(tmp_path: Path) -> None:
    assert shutil.which("cmake") and shutil.which("ctest"), "CMake is on this machine"
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.10)\nproject(t NONE)\nenable_testing()\n"
        "add_test(NAME passes COMMAND true)\nadd_test(NAME fails COMMAND false)\n"
        'add_test(NAME skips COMMAND sh -c "exit 77")\nset_tests_properties(skips PROPERTIES SKIP_RETURN_CODE 77)\n'
    )
    subprocess.run(["cmake", "-S", ".", "-B", "build"], cwd=tmp_path, capture_output=True, check=True)
    subprocess.run(["ctest", "--output-junit", "out.xml"], cwd=tmp_path / "build", capture_output=True)
    assert statuses((tmp_path / "build" / "out.xml").read_bytes()) == {
        "passes": "passed", "fails": "failed", "skips": "skipped",
    }  # fmt: skip


def test_classnames_that_say_something_are_kept() -> None:
    surefire = """<testsuite name="org.example.MathTest">
      <testcase name="adds" classname="org.example.MathTest" time="0.01"/>
      <testcase name="adds" classname="org.example.Helper" time="0.01"><error message="boom"/></testcase>
    </testsuite>"""
    assert statuses(surefire) == {"adds": "passed", "org.example.Helper::adds": "error"}
    jest = """<testsuites><testsuite name="sum">
      <testcase classname="sum adds" name="sum adds" file="src/sum.test.js"/>
    </testsuite></testsuites>"""
    assert statuses(jest) == {"src/sum.test.js::sum::sum adds": "passed"}


def test_a_broken_report_is_a_clear_error() -> None:
    with pytest.raises(ReportError, match="not valid XML"):
        parse_junit_xml("<testsuite><testcase", "out.xml")
