"""Gold environments whose suite another runner than pytest runs, end to end in real containers: a Node.js
project judged by ``node --test``'s TAP and an autotools project judged by automake's ``make check``. Each
becomes a gold environment (two runs, the probe), a catalog break is validated on it, and its Harbor export
gives the oracle reward 1 and doing nothing reward 0 through the verifier our rollouts run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from cligym.base_images import BaseImage
from cligym.generation.export import export_harbor_task, export_terminal_bench_task
from cligym.generation.gold import GoldRecord, build_gold
from cligym.generation.gold.build import gold_dir
from cligym.generation.inverters.catalog import all_catalog_candidates
from cligym.generation.task_record import TaskRecord
from cligym.generation.validation import validate_candidate
from cligym.rollout.task_dir import load_task
from cligym.rollout.verifier import run_verifier
from cligym.sandbox import Sandbox
from cligym.settings import load_settings
from tests.generation.conftest import task_record
from tests.generation.test_terminal_bench_export import tb_python as tb_python
from tests.generation.test_terminal_bench_export import tb_trial

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
pytestmark = pytest.mark.slow

NODE_SPEC = {
    "name": "node-fixture",
    "source": {"path": str(FIXTURES / "node-project")},
    "runner": "tap",
    "test": "node --test --test-reporter=tap test/",
    "timeout": 300,
}
AUTOMAKE_SPEC = {
    "name": "automake-fixture",
    "source": {"path": str(FIXTURES / "automake-project")},
    "system_packages": ["autoconf", "automake", "make"],
    "install": ["autoreconf -fi", "./configure"],
    "runner": "automake",
    "test": "make check",
    "timeout": 300,
}


@dataclass(frozen=True)
class RunnerTask:
    gold: GoldRecord
    task: TaskRecord
    image: str
    task_dir: Path


def _gold(spec: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> tuple[GoldRecord, Path]:
    run_dir = tmp_path_factory.mktemp("run")
    spec_file = run_dir / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    return build_gold(spec_file, load_settings(), run_dir, lambda _: None), run_dir


def _task(
    gold: GoldRecord, run_dir: Path, inverter: str, target: str, tmp_path_factory: pytest.TempPathFactory
) -> RunnerTask:
    candidate = next(
        c for c in all_catalog_candidates(gold) if c.inverter == inverter and c.target and target in c.target.label()
    )
    validation = validate_candidate(gold, candidate, load_settings())
    assert validation.valid, validation.reason
    assert validation.image_tag is not None
    task = task_record(f"{gold.name}-{candidate.inverter.split(':')[-1]}", gold, candidate, validation)
    out = tmp_path_factory.mktemp("harbor")
    task_dir = export_harbor_task(task, gold, gold_dir(run_dir, gold.name) / "context", out, hinted=False)
    return RunnerTask(gold, task, validation.image_tag, task_dir)


@pytest.fixture(scope="module")
def runner_task(tmp_path_factory: pytest.TempPathFactory) -> Callable[[GoldRecord, Path, str, str], RunnerTask]:
    """A validated, exported task per gold environment, operator and target, made once for the module (each
    is a full validation: the tests that replay hacks on the same task share it)."""
    made: dict[tuple[str, str, str], RunnerTask] = {}

    def task(gold: GoldRecord, run_dir: Path, inverter: str, target: str) -> RunnerTask:
        key = (gold.name, inverter, target)
        if key not in made:
            made[key] = _task(gold, run_dir, inverter, target, tmp_path_factory)
        return made[key]

    return task


@pytest.fixture(scope="module")
def node_gold(base_image: BaseImage, tmp_path_factory: pytest.TempPathFactory) -> tuple[GoldRecord, Path]:
    return _gold(NODE_SPEC, tmp_path_factory)


@pytest.fixture(scope="module")
def automake_gold(base_image: BaseImage, tmp_path_factory: pytest.TempPathFactory) -> tuple[GoldRecord, Path]:
    return _gold(AUTOMAKE_SPEC, tmp_path_factory)


def _verdict(runner_task: RunnerTask, commands: list[str]) -> tuple[float, list[str]]:
    """The exported verifier's reward, and the harness changes it named, after ``commands`` ran in the task."""
    with Sandbox(runner_task.image, name_prefix="cligym-test") as box:
        for command in commands:
            assert box.exec(command, timeout=120).ok, command
        result = run_verifier(box, load_task(runner_task.task_dir), timeout=600)
    return result.reward, result.harness_modified


def _rewards(runner_task: RunnerTask) -> tuple[float, float]:
    """(doing nothing, the oracle's repair): the exported verifier's reward on the task image."""
    task = load_task(runner_task.task_dir)
    rewards = []
    repairs: tuple[list[str], ...] = ([], list(runner_task.task.candidate.repair_commands))
    for repair in repairs:
        with Sandbox(runner_task.image, name_prefix="cligym-test") as box:
            for command in repair:
                assert box.exec(command, timeout=120).ok, command
            rewards.append(run_verifier(box, task, timeout=600).reward)
    return rewards[0], rewards[1]


def test_a_node_suite_is_read_from_its_tap_stream(node_gold: tuple[GoldRecord, Path]) -> None:
    gold, _ = node_gold
    names = {test_id.rpartition("::")[2] for test_id in gold.gold_tests}
    assert {"lower-cases words", "drops punctuation", "round trip in memory", "packs through a program"} <= names
    assert "pads on the left" in names  # with its dependency, installed by npm from the registry
    # slugify's result only repeats its subtests': it is not a test of its own.
    assert not any(test_id.endswith("slugify") for test_id in gold.gold_tests)
    assert gold.runner is not None and gold.pytest_setup is None
    executables = {f.path for f in gold.probe.executables}
    assert "/usr/bin/node" in executables and "/usr/bin/gzip" in executables
    assert any("libuv" in f.path for f in gold.probe.shared_libraries)
    # Node 18's TAP names no test files: no test unit can be told from another, each uses what the run used.
    assert gold.footprint is not None
    assert gold.footprint.tests_using("executables", "/usr/bin/gzip") == set(gold.gold_tests)


def test_a_node_task_pays_the_oracle_and_not_doing_nothing(
    node_gold: tuple[GoldRecord, Path], runner_task: Callable[[GoldRecord, Path, str, str], RunnerTask]
) -> None:
    gold, run_dir = node_gold
    # Not a program apt needs: the oracle reinstalls its package with apt.
    task = runner_task(gold, run_dir, "catalog:executable-removed", "/usr/bin/gzip")
    assert [t.rpartition("::")[2] for t in task.task.validation.fail_to_pass] == ["packs through a program"]
    assert (task.task_dir / "tests" / "runner_report.py").is_file()
    assert _rewards(task) == (0.0, 1.0)


def test_an_automake_suite_is_read_from_make_check(automake_gold: tuple[GoldRecord, Path]) -> None:
    gold, _ = automake_gold
    assert gold.gold_tests == ["tests/lines.sh", "tests/pack.sh", "tests/sed.sh", "tests/upper.sh"]
    assert gold.skipped_tests == ["tests/not-here.sh"]
    assert {"/usr/bin/sed", "/usr/bin/tr", "/usr/bin/wc", "/usr/bin/gzip"} <= {f.path for f in gold.probe.executables}
    # Each test script is a unit of its own: what it ran is its own, what make and the driver ran is everyone's.
    assert gold.footprint is not None
    assert gold.footprint.tests_using("executables", "/usr/bin/gzip") == {"tests/pack.sh"}
    assert gold.footprint.tests_using("executables", "/usr/bin/make") == set(gold.gold_tests)


def test_an_automake_task_pays_the_oracle_and_not_doing_nothing(
    automake_gold: tuple[GoldRecord, Path], runner_task: Callable[[GoldRecord, Path, str, str], RunnerTask]
) -> None:
    gold, run_dir = automake_gold
    task = runner_task(gold, run_dir, "catalog:executable-removed", "/usr/bin/gzip")
    assert task.task.validation.fail_to_pass == ["tests/pack.sh"]
    assert task.task.candidate.expected_failures == ["tests/pack.sh"]
    assert _rewards(task) == (0.0, 1.0)


@pytest.mark.parametrize(
    "inverter",
    [
        "catalog:node-module-removed",
        "catalog:node-module-entry-missing",
        "catalog:node-module-files-emptied",
        "catalog:node-preload-hides-module",
    ],
)
def test_node_package_breaks_are_valid_tasks(
    node_gold: tuple[GoldRecord, Path], inverter: str, runner_task: Callable[[GoldRecord, Path, str, str], RunnerTask]
) -> None:
    gold, run_dir = node_gold
    task = runner_task(gold, run_dir, inverter, "node_modules/left-pad")
    assert "pads on the left" in {t.rpartition("::")[2] for t in task.task.validation.fail_to_pass}


# A stand-in for the program the break removed, that passes the test without being it; a test driver that
# reports every test passed. Each repairs nothing, and each earns 0 with the harness file it changed named.
FAKE_PROGRAM = "printf '#!/bin/sh\\nexec cat\\n' > /usr/local/bin/gzip && chmod +x /usr/local/bin/gzip"
FAKE_DRIVER = (
    "cd /repo && printf '%s\\n' '#!/bin/sh' 'while [ $# -gt 0 ]; do case $1 in --test-name) n=$2; shift;;"
    ' --trs-file) t=$2; shift;; --) break;; esac; shift; done; echo ":test-result: PASS" > $t;'
    ' echo "PASS: $n"\' > test-driver'
)


def test_a_fake_program_earns_nothing_on_a_node_task(
    node_gold: tuple[GoldRecord, Path], runner_task: Callable[[GoldRecord, Path, str, str], RunnerTask]
) -> None:
    gold, run_dir = node_gold
    task = runner_task(gold, run_dir, "catalog:executable-removed", "/usr/bin/gzip")
    reward, named = _verdict(task, [FAKE_PROGRAM])
    assert reward == 0.0
    assert any("gzip" in problem for problem in named), named


def test_a_lying_test_driver_earns_nothing_on_an_automake_task(
    automake_gold: tuple[GoldRecord, Path], runner_task: Callable[[GoldRecord, Path, str, str], RunnerTask]
) -> None:
    gold, run_dir = automake_gold
    task = runner_task(gold, run_dir, "catalog:executable-removed", "/usr/bin/gzip")
    reward, named = _verdict(task, [FAKE_DRIVER])
    assert reward == 0.0
    assert any("/repo/test-driver" in problem for problem in named), named
    # The same faked program as on the Node task.
    assert _verdict(task, [FAKE_PROGRAM])[0] == 0.0


# A working left-pad in the node_modules directory nearest the tests (Node looks there first), in front of
# the one the break emptied; make's GNUmakefile, read before the Makefile, sending every test through the
# lying driver above. Each repairs nothing, and each stands where gold's run looked and found nothing.
NEARER_MODULE = (
    "mkdir -p /repo/test/node_modules/left-pad && printf '%s\\n' "
    "'module.exports = (s, n, c) => String(s).padStart(n, c === undefined ? \" \" : String(c));'"
    " > /repo/test/node_modules/left-pad/index.js"
)
PREFERRED_MAKEFILE = (
    FAKE_DRIVER.replace("> test-driver", "> /usr/local/share/driver")
    + " && printf 'include Makefile\\nLOG_DRIVER = $(SHELL) /usr/local/share/driver\\n' > /repo/GNUmakefile"
)


def test_a_module_in_a_nearer_node_modules_earns_nothing(
    node_gold: tuple[GoldRecord, Path], runner_task: Callable[[GoldRecord, Path, str, str], RunnerTask]
) -> None:
    gold, run_dir = node_gold
    # Node skips a node_modules directory that is not there without looking inside.
    assert "/repo/test/node_modules" in (gold.harness.runner_absent if gold.harness else [])
    task = runner_task(gold, run_dir, "catalog:node-module-files-emptied", "node_modules/left-pad")
    reward, named = _verdict(task, [NEARER_MODULE])
    assert reward == 0.0
    assert any("/repo/test/node_modules (added: gold's test run" in problem for problem in named), named


def test_a_makefile_make_prefers_earns_nothing(
    automake_gold: tuple[GoldRecord, Path], runner_task: Callable[[GoldRecord, Path, str, str], RunnerTask]
) -> None:
    gold, run_dir = automake_gold
    task = runner_task(gold, run_dir, "catalog:executable-removed", "/usr/bin/gzip")
    reward, named = _verdict(task, [PREFERRED_MAKEFILE])
    assert reward == 0.0
    assert any("/repo/GNUmakefile (added" in problem for problem in named), named


# config.status (untracked, and never run in gold's suite) dated into the future: make would remake the
# Makefile with it first thing in the verifier's make check, after every check before the tests, and the line
# put into it would swap the lying driver in. The restore dates every file of the repository back.
REBUILD_SWAPS_DRIVER = (
    FAKE_DRIVER.replace("> test-driver", "> /usr/local/share/driver")
    + " && sed -i '2i cp /usr/local/share/driver /repo/test-driver' /repo/config.status"
    + " && touch -d 2030-01-01 /repo/config.status"
)


def test_a_build_file_dated_into_the_future_remakes_nothing_in_the_verifiers_run(
    automake_gold: tuple[GoldRecord, Path], runner_task: Callable[[GoldRecord, Path, str, str], RunnerTask]
) -> None:
    gold, run_dir = automake_gold
    task = runner_task(gold, run_dir, "catalog:executable-removed", "/usr/bin/gzip")
    with Sandbox(task.image, name_prefix="cligym-test") as box:
        assert box.exec(REBUILD_SWAPS_DRIVER, timeout=120).ok
        result = run_verifier(box, load_task(task.task_dir), timeout=600)
        # The driver is gold's: config.status never ran (it would have swapped it during the run).
        assert not box.exec("sed -n 2p /repo/test-driver").stdout.startswith("while")
        after = box.exec("cat /logs/verifier/harness-after-tests.txt").stdout
    assert result.reward == 0.0  # gzip is still missing
    # The break (gzip removed) is all the check after the tests finds: the driver is as gold had it.
    assert "/usr/bin/gzip (deleted)" in after and "test-driver" not in after, after


# A directory named like a test file (tape is handed test/000.js/ by the suite's glob and loads it as a
# package whose main lies outside test/): removed with the untracked test sources.
TEST_DIRECTORY_PACKAGE = (
    "mkdir -p /repo/test/000.test.js /usr/local/share/rt && printf '%s\\n' '{\"main\": \"/usr/local/share/rt/x.js\"}'"
    " > /repo/test/000.test.js/package.json && echo 'process.exit(0)' > /usr/local/share/rt/x.js"
)


def test_an_untracked_directory_named_like_a_test_file_is_removed_before_the_run(
    node_gold: tuple[GoldRecord, Path], runner_task: Callable[[GoldRecord, Path, str, str], RunnerTask]
) -> None:
    gold, run_dir = node_gold
    task = runner_task(gold, run_dir, "catalog:node-module-files-emptied", "node_modules/left-pad")
    with Sandbox(task.image, name_prefix="cligym-test") as box:
        assert box.exec(TEST_DIRECTORY_PACKAGE, timeout=120).ok
        result = run_verifier(box, load_task(task.task_dir), timeout=600)
        assert not box.exec("test -e /repo/test/000.test.js").ok
        assert box.exec("test -f /repo/test/slug.test.js").ok  # the tracked ones stay
    assert result.reward == 0.0


def test_the_terminal_bench_export_of_an_automake_task_resolves_under_tb_with_the_oracle(
    automake_gold: tuple[GoldRecord, Path],
    tb_python: Path,
    runner_task: Callable[[GoldRecord, Path, str, str], RunnerTask],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    gold, run_dir = automake_gold
    task = runner_task(gold, run_dir, "catalog:executable-removed", "/usr/bin/gzip")
    out = tmp_path_factory.mktemp("tb-tasks")
    task_dir = export_terminal_bench_task(task.task, gold, gold_dir(run_dir, gold.name) / "context", out, hinted=False)
    assert tb_trial(tb_python, "oracle", task_dir, tmp_path_factory.mktemp("tb-oracle"))["is_resolved"] is True
    assert tb_trial(tb_python, "nop", task_dir, tmp_path_factory.mktemp("tb-nop"))["is_resolved"] is False
