"""TAP streams as real runners print them (Node's test runner, Perl's prove), read into per-test outcomes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cligym.generation.runners.runner_report import parse_tap

NODE_TESTS = """
const test = require('node:test');
const assert = require('node:assert');
test('math', async (t) => {
  await t.test('adds', () => { assert.strictEqual(1 + 1, 2); });
  await t.test('subtracts', () => { assert.strictEqual(2 - 1, 0); });
});
test('plain', () => {});
test('plain', () => {});
test('skipped one', { skip: 'not here' }, () => {});
test('todo one', { todo: true }, () => { throw new Error('x'); });
"""


def statuses(text: str, stream: str = "") -> dict[str, str]:
    return {outcome.test_id: outcome.status for outcome in parse_tap(text, stream)}


def test_node_test_runner_subtests_directives_and_messages(tmp_path: Path) -> None:
    assert shutil.which("node"), "Node.js is on this machine (the npm registry is reachable through it)"
    (tmp_path / "math.test.js").write_text(NODE_TESTS)
    run = subprocess.run(
        ["node", "--test", "--test-reporter=tap", "math.test.js"], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 1  # one test failed
    outcomes = {outcome.test_id: outcome for outcome in parse_tap(run.stdout, "math.test.js")}
    assert {test_id: outcome.status for test_id, outcome in outcomes.items()} == {
        "math.test.js::math::adds": "passed",
        "math.test.js::math::subtracts": "failed",  # the parent "math" only repeats this failure
        "math.test.js::plain": "passed",
        "math.test.js::plain [2]": "passed",  # same name twice: numbered, not merged
        "math.test.js::skipped one": "skipped",
        "math.test.js::todo one": "skipped",  # a failing TODO is expected to fail
    }
    assert outcomes["math.test.js::math::subtracts"].message.startswith("Expected values to be strictly equal")
    assert outcomes["math.test.js::skipped one"].message == "not here"
    assert outcomes["math.test.js::math::adds"].duration_s > 0  # from the YAML diagnostics


def test_prove_streams_name_their_files_and_a_stopped_run_is_an_error(tmp_path: Path) -> None:
    assert shutil.which("prove"), "prove comes with Perl, which Debian always has"
    (tmp_path / "a.t").write_text('echo "1..3"; echo "ok 1 - first"; echo "not ok 2 - second"; echo "ok 3 # SKIP db"\n')
    (tmp_path / "b.t").write_text('echo "1..2"; echo "ok 1 - only"; exit 1\n')
    (tmp_path / "c.t").write_text('echo "1..1"; echo "ok 1 - whole"\n')
    run = subprocess.run(
        ["prove", "-v", "--exec", "sh", "a.t", "b.t", "c.t"], cwd=tmp_path, capture_output=True, text=True
    )
    assert statuses(run.stdout) == {
        "a.t::first": "passed",
        "a.t::second": "failed",
        "a.t::test 3": "skipped",
        "b.t::only": "passed",
        "b.t::test 2": "error",  # planned, never reported: the script died
        "c.t::whole": "passed",  # and prove's own "ok" verdict after it is not a test
    }


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        ("1..2\nok 1\nok 2 - two\n", {"s::test 1": "passed", "s::two": "passed"}),
        ("ok 1 - a\nBail out! database down\nok 2 - b\n", {"s::a": "passed"}),
        ("1..3\nok 1 - a\nBail out! gone\n", {"s::a": "passed", "s::test 2": "error", "s::test 3": "error"}),
        ("not ok 1 - flaky # TODO known\nok 2 - fixed # todo\n", {"s::flaky": "skipped", "s::fixed": "passed"}),
    ],
)
def test_plans_bail_out_and_todo(stream: str, expected: dict[str, str]) -> None:
    assert statuses(stream, "s") == expected


def test_the_shipped_converter_runs_alone_and_writes_our_report(tmp_path: Path) -> None:
    """Exported tasks run the file by itself with the container's python3: no cligym, standard library only."""
    from importlib import resources

    from cligym.generation.gold.junit import parse_pytest_report

    script = tmp_path / "runner_report.py"
    script.write_text(resources.files("cligym.generation.runners").joinpath("runner_report.py").read_text())
    (tmp_path / "run.tap").write_text("1..3\nok 1 - a\nnot ok 2 - b\n")
    result = subprocess.run(
        ["/usr/bin/python3", "-I", str(script), "tap", str(tmp_path / "run.tap"), "t/basic.t"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcomes = {o.test_id: o.status for o in parse_pytest_report(result.stdout)}
    assert outcomes == {"t/basic.t::a": "passed", "t/basic.t::b": "failed", "t/basic.t::test 3": "error"}
    missing = subprocess.run(
        ["/usr/bin/python3", "-I", str(script), "junit", str(tmp_path / "absent.xml")], capture_output=True, text=True
    )
    assert missing.returncode == 0 and parse_pytest_report(missing.stdout) == []  # no report: nothing passed


# tape prints each test's name as a comment before its assertions (minimist's suite, as npm ships it).
TAPE_STREAM = """TAP version 13
# parses flags
ok 1 should be deeply equivalent
ok 2 should be deeply equivalent
# parses numbers
ok 3 should be deeply equivalent
not ok 4 should be strictly equal
  ---
    operator: equal
  ...
# Looks like you failed 1 test of 4.
#   Failed test 'x'

1..4
# tests 4
# pass  3
# fail  1
"""


def test_tape_names_number_assertions_within_their_test() -> None:
    assert statuses(TAPE_STREAM) == {
        "parses flags::should be deeply equivalent": "passed",
        "parses flags::should be deeply equivalent [2]": "passed",
        "parses numbers::should be deeply equivalent": "passed",
        "parses numbers::should be strictly equal": "failed",
    }
    # An assertion that never ran in one test moves no id of another.
    shorter = TAPE_STREAM.replace("ok 2 should be deeply equivalent\n", "").replace("1..4", "1..3")
    assert "parses numbers::should be deeply equivalent" in statuses(shorter)


# Files run one per process, each one's TAP nested under its name (the shipped tape specs): a file whose own
# output holds a carriage return (or another character str.splitlines() ends lines at) must not start a line
# outside its nesting and forge another file's result.
FORGED = (
    "# Subtest: test/000.js\n"
    "    ok 1 - fine\r"
    "not ok - test/000.js\rok - test/real.js\x0bok - test/real.js\u2028ok - test/real.js\n"
    "    1..1\n"
    "ok - test/000.js\n"
    "# Subtest: test/real.js\n"
    "    not ok 1 - broken\n"
    "    1..1\n"
    "not ok - test/real.js\n"
)


def test_a_files_output_cannot_end_its_line_early_and_forge_another_files_result() -> None:
    outcomes = statuses(FORGED)
    assert outcomes["test/real.js::broken"] == "failed"
    assert all(status != "passed" for test_id, status in outcomes.items() if test_id.startswith("test/real.js"))
