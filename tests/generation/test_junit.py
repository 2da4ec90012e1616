"""Per-test outcomes from real pytest runs: our report plugin and JUnit XML, against collected node ids."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from cligym.generation.gold.dockerfile import parse_collected
from cligym.generation.gold.junit import parse_junit, parse_pytest_report

SAMPLE_TESTS = textwrap.dedent(
    """
    import unittest
    import pytest

    def test_plain():
        pass

    @pytest.mark.parametrize("value", ["a::b", "x y", 3])
    def test_param(value):
        pass

    class TestOuter:
        def test_method(self):
            pass

        class TestInner:
            def test_nested(self):
                pass

    class Legacy(unittest.TestCase):
        def test_unittest_style(self):
            self.assertEqual(1, 1)

    def test_fails():
        assert 1 == 2, "one is not two"

    @pytest.mark.skip(reason="not today")
    def test_skipped():
        pass

    @pytest.mark.xfail(reason="known")
    def test_xfail():
        assert False

    @pytest.fixture
    def broken():
        raise RuntimeError("fixture exploded")

    def test_error(broken):
        pass
    """
)


def run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


def test_node_ids_from_junit_equal_pytests_collected_ids(tmp_path: Path) -> None:
    package = tmp_path / "tests" / "unit"
    package.mkdir(parents=True)
    (package / "test_sample.py").write_text(SAMPLE_TESTS)
    (tmp_path / "test_top.py").write_text("def test_top():\n    pass\n")
    collected = parse_collected(run_pytest(tmp_path, "--collect-only").stdout)
    run_pytest(tmp_path, "-o", "junit_family=xunit1", "--junitxml=report.xml")
    outcomes = {o.test_id: o for o in parse_junit((tmp_path / "report.xml").read_bytes())}
    assert set(outcomes) == set(collected)
    assert "tests/unit/test_sample.py::TestOuter::TestInner::test_nested" in outcomes
    assert "tests/unit/test_sample.py::test_param[a::b]" in outcomes
    assert outcomes["tests/unit/test_sample.py::Legacy::test_unittest_style"].status == "passed"
    assert outcomes["tests/unit/test_sample.py::test_fails"].status == "failed"
    assert "one is not two" in outcomes["tests/unit/test_sample.py::test_fails"].message
    assert outcomes["tests/unit/test_sample.py::test_skipped"].status == "skipped"
    assert outcomes["tests/unit/test_sample.py::test_xfail"].status == "skipped"
    assert outcomes["tests/unit/test_sample.py::test_error"].status == "error"
    assert outcomes["test_top.py::test_top"].status == "passed"


def test_a_teardown_error_after_a_pass_counts_as_error(tmp_path: Path) -> None:
    (tmp_path / "test_teardown.py").write_text(
        "import pytest\n"
        "@pytest.fixture\n"
        "def leaky():\n"
        "    yield\n"
        "    raise RuntimeError('teardown failed')\n"
        "def test_passes_then_teardown_fails(leaky):\n"
        "    pass\n"
    )
    run_pytest(tmp_path, "-o", "junit_family=xunit1", "--junitxml=report.xml")
    outcomes = parse_junit((tmp_path / "report.xml").read_bytes())
    assert [(o.test_id, o.status) for o in outcomes] == [("test_teardown.py::test_passes_then_teardown_fails", "error")]


CUSTOM_ITEMS_CONFTEST = textwrap.dedent(
    """
    import pytest

    def pytest_collect_file(parent, file_path):
        if file_path.suffix == ".cases":
            return CaseFile.from_parent(parent, path=file_path)

    class CaseFile(pytest.File):
        def collect(self):
            for line in self.path.read_text().split():
                yield CaseItem.from_parent(self, name=line)

    class CaseItem(pytest.Item):
        def runtest(self):
            assert not self.name.startswith("bad")

        def reportinfo(self):  # like PyYAML's data-driven tests: the location is the case's data file
            return self.path.parent / (self.name + ".data"), None, self.name
    """
)
PLUGIN = Path(__file__).resolve().parents[2] / "generation" / "gold" / "pytest_report_plugin.py"


def test_report_plugin_gives_exact_ids_even_for_custom_items(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_sample.py").write_text(SAMPLE_TESTS)
    (tests / "conftest.py").write_text(CUSTOM_ITEMS_CONFTEST)
    (tests / "data.cases").write_text("good-one good-two bad-three\n")
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "cligym_pytest_report.py").write_text(PLUGIN.read_text())
    collected = parse_collected(run_pytest(tmp_path, "--collect-only").stdout)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "cligym_pytest_report",
            "-o",
            "junit_family=xunit1",
            "--junitxml=report.xml",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            "PYTHONPATH": str(plugin_dir),
            "CLIGYM_PYTEST_REPORT": str(tmp_path / "report.json"),
            "PATH": "/usr/bin:/bin",
        },
    )
    outcomes = {o.test_id: o for o in parse_pytest_report((tmp_path / "report.json").read_bytes())}
    assert set(outcomes) == set(collected)
    assert outcomes["tests/data.cases::good-one"].status == "passed"
    assert outcomes["tests/data.cases::bad-three"].status == "failed"
    assert outcomes["tests/test_sample.py::test_error"].status == "error"
    assert outcomes["tests/test_sample.py::test_xfail"].status == "skipped"
    assert outcomes["tests/test_sample.py::TestOuter::TestInner::test_nested"].status == "passed"
    # JUnit cannot name custom items exactly: the reason verdicts use the plugin's report.
    junit_ids = {o.test_id for o in parse_junit((tmp_path / "report.xml").read_bytes())}
    assert "tests/data.cases::good-one" not in junit_ids


def test_a_failure_message_with_lone_surrogates_can_be_stored() -> None:
    """ujson's tests decode "\\ud800" and print it: the report's JSON carries it as an escape that decodes to a
    lone surrogate, and writing the task record failed (a generation run stopped with a traceback)."""
    report = json.dumps(
        {"tests": {"t.py::test_a": {"status": "failed", "duration_s": 0, "message": "x \ud800 \ud83d\udca9"}}}
    )
    (outcome,) = parse_pytest_report(report)
    assert outcome.message == "x \ufffd \U0001f4a9"
    outcome.model_dump_json()  # raised PydanticSerializationError before
