"""JUnit XML from real pytest runs maps back to the exact node ids pytest collects."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from cligym.generation.gold.dockerfile import parse_collected
from cligym.generation.gold.junit import parse_junit

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
