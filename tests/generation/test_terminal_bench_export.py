"""Exported Terminal-Bench 1.0 tasks run under the real `tb` client: the oracle resolves them, doing nothing
does not, and editing the repository's tests does not either (judged by Terminal-Bench's own parser)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from docker.errors import DockerException

from cligym.docker_connection import docker_client
from cligym.generation.export import export_terminal_bench_task
from cligym.generation.export.terminal_bench import RUNNER_COMMAND, RUNNER_STEP, TMUX_STEP, VERDICT_TEST_ID
from cligym.generation.gold.dockerfile import CONSTRAINTS_FILE
from cligym.image_build import build_image
from cligym.sandbox import Sandbox
from tests.generation.conftest import ValidatedTask

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TB_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cligym" / "tb-venv"
VERDICT_NAME = VERDICT_TEST_ID.split("::", 1)[1]


@pytest.fixture(scope="module")
def tb_python() -> Path:
    """The real Terminal-Bench package from PyPI (`tb` and its parsers), in a Python >= 3.12 venv cached per
    machine."""
    python = TB_VENV / "bin" / "python"
    if not (TB_VENV / "bin" / "tb").exists():
        pythons = sorted(glob.glob("/root/.pyenv/versions/3.1[2-9]*/bin/python")) or sorted(
            glob.glob("/usr/bin/python3.1[2-9]")
        )
        assert pythons, "terminal-bench needs Python >= 3.12 (pyenv provides one on this machine)"
        subprocess.run([pythons[-1], "-m", "venv", str(TB_VENV)], check=True)
        subprocess.run([str(TB_VENV / "bin" / "pip"), "install", "-q", "terminal-bench"], check=True)
    return python


@pytest.fixture(scope="module")
def task_dir(validated_task: ValidatedTask, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_terminal_bench_task(
        validated_task.task,
        validated_task.gold,
        validated_task.gold_context,
        tmp_path_factory.mktemp("tb-tasks"),
        hinted=False,
    )


def tb_trial(tb_python: Path, agent: str, task_dir: Path, output: Path) -> dict:
    """Run one trial with `tb run` and return its results (is_resolved, parser_results...)."""
    run_id = f"{agent}-run"
    command = [str(tb_python.parent / "tb"), "run", "--agent", agent, "--dataset-path", str(task_dir.parent)]
    command += ["--task-id", task_dir.name, "--output-path", str(output), "--run-id", run_id]
    # --no-cleanup: the default also prunes the daemon's whole build cache; the image is removed below.
    command += ["--n-concurrent", "1", "--no-cleanup", "--no-livestream"]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=900)
    finally:
        with contextlib.suppress(DockerException):
            docker_client().images.remove(f"tb__{task_dir.name}__client".replace(".", "-"), force=True)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (trial,) = json.loads((output / run_id / "results.json").read_text())["results"]
    assert trial["failure_mode"] == "unset", (trial, (output / run_id / "run.log").read_text()[-3000:])
    return trial


def tb_parse(tb_python: Path, output: str) -> dict[str, str]:
    """Terminal-Bench's own pytest parser over ``output``: test name -> passed/failed."""
    script = (
        "import json, sys\n"
        "from terminal_bench.parsers.pytest_parser import PytestParser\n"
        "print(json.dumps({k: v.value for k, v in PytestParser().parse(sys.stdin.read()).items()}))\n"
    )
    completed = subprocess.run([str(tb_python), "-c", script], input=output, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def test_the_task_directory_has_terminal_benchs_layout(validated_task: ValidatedTask, task_dir: Path) -> None:
    task = validated_task.task
    for relative in ("task.yaml", "Dockerfile", "docker-compose.yaml", "run-tests.sh", "solution.sh"):
        assert (task_dir / relative).is_file(), relative
    config = yaml.safe_load((task_dir / "task.yaml").read_text())
    assert config["instruction"].strip() == task.statement.strip()
    assert config["parser_name"] == "pytest" and config["run_tests_in_same_shell"] is False
    client = yaml.safe_load((task_dir / "docker-compose.yaml").read_text())["services"]["client"]
    assert client["image"] == "${T_BENCH_TASK_DOCKER_CLIENT_IMAGE_NAME}"
    assert client["command"] == ["sh", "-c", RUNNER_COMMAND.replace("$", "$$")]
    dockerfile = (task_dir / "Dockerfile").read_text().splitlines()
    assert dockerfile[-1] == task.candidate.break_steps[-1].render()
    first_break = dockerfile.index(task.candidate.break_steps[0].render())
    assert dockerfile.index(TMUX_STEP) < first_break and dockerfile.index(RUNNER_STEP) < first_break
    assert (task_dir / "tests" / "pristine" / "tests" / "test_store.py").is_file()
    assert (task_dir / "tests" / "verify.sh").is_file()
    # The Dockerfile rebuilds gold, its pip steps held to gold's versions.
    assert f"COPY {CONSTRAINTS_FILE} " in "\n".join(dockerfile) and (task_dir / CONSTRAINTS_FILE).is_file()
    required = (task_dir / "tests" / "required-tests.txt").read_text().split()
    assert required == task.validation.fail_to_pass + task.validation.pass_to_pass


def test_terminal_bench_reads_task_yaml_with_its_own_model(task_dir: Path, tb_python: Path) -> None:
    script = (
        "import sys\nfrom pathlib import Path\nfrom terminal_bench.handlers.trial_handler import Task\n"
        "task = Task.from_yaml(Path(sys.argv[1]))\nprint(task.difficulty.value, task.parser_name.value)\n"
    )
    completed = subprocess.run(
        [str(tb_python), "-c", script, str(task_dir / "task.yaml")], capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split() == ["hard", "pytest"]


def test_tb_oracle_resolves_the_task(
    validated_task: ValidatedTask, task_dir: Path, tb_python: Path, tmp_path: Path
) -> None:
    trial = tb_trial(tb_python, "oracle", task_dir, tmp_path)
    assert trial["is_resolved"] is True
    results = trial["parser_results"]
    assert set(results.values()) == {"passed"} and results[VERDICT_NAME] == "passed"
    for test in validated_task.task.validation.fail_to_pass:
        assert results[test.split("::", 1)[1]] == "passed"


def test_tb_do_nothing_agent_leaves_the_task_unresolved(task_dir: Path, tb_python: Path, tmp_path: Path) -> None:
    trial = tb_trial(tb_python, "nop", task_dir, tmp_path)
    assert trial["is_resolved"] is False
    assert trial["parser_results"][VERDICT_NAME] == "failed"


def copy_tests(box: Sandbox, task_dir: Path) -> None:
    """As Terminal-Bench does once the agent has finished: tests/ and run-tests.sh into /tests."""
    for path in sorted(p for p in (task_dir / "tests").rglob("*") if p.is_file()):
        box.write_file(f"/tests/{path.relative_to(task_dir / 'tests')}", path.read_bytes())
    box.write_file("/tests/run-tests.sh", (task_dir / "run-tests.sh").read_bytes(), mode=0o755)


def test_editing_the_repositorys_tests_is_not_resolved_under_tbs_parser(
    validated_task: ValidatedTask, task_dir: Path, tb_python: Path
) -> None:
    """Without Terminal-Bench's compose file (the validated image, a plain container) run-tests.sh runs the
    verifier itself."""
    gold, task = validated_task.gold, validated_task.task
    assert task.validation.image_tag

    def run_tests(box: Sandbox) -> dict[str, str]:
        copy_tests(box, task_dir)
        result = box.exec("bash /tests/run-tests.sh", timeout=600)
        return tb_parse(tb_python, result.stdout + result.stderr)

    with Sandbox(task.validation.image_tag) as box:
        # The "agent" skips every test and rewrites them instead of repairing anything.
        box.exec(
            f"cd {gold.repo_path} && printf 'import pytest\\npytestmark = pytest.mark.skip\\n' > tests/conftest.py"
            " && for f in tests/test_*.py; do echo 'def test_ok(): pass' > $f; done"
        )
        results = run_tests(box)
        assert results[VERDICT_NAME] == "failed" and "failed" in results.values()
        # The same run-tests.sh after the oracle's repair: every required test and the verdict pass.
        box.write_file("/oracle/solution.sh", (task_dir / "solution.sh").read_bytes(), mode=0o755)
        assert box.exec("bash /oracle/solution.sh", timeout=600).ok
        results = run_tests(box)
        assert set(results.values()) == {"passed"} and VERDICT_NAME in results


def test_the_verdict_ignores_what_the_asking_shell_inherited(
    validated_task: ValidatedTask, task_dir: Path, tb_python: Path
) -> None:
    """Terminal-Bench asks from a tmux server that may carry the break's limits and variables; the
    container's first process runs the verifier as a fresh process instead."""
    tag = "cligym/test-tb-task:latest"
    build_image(task_dir, tag)
    try:
        with Sandbox(tag, keepalive_command=["sh", "-c", RUNNER_COMMAND]) as box:
            box.write_file("/oracle/solution.sh", (task_dir / "solution.sh").read_bytes(), mode=0o755)
            assert box.exec("bash /oracle/solution.sh", timeout=600).ok
            copy_tests(box, task_dir)
            # A shell that can write no file over 1 KiB and loads libraries from a decoy directory.
            polluted = "ulimit -f 1; export LD_LIBRARY_PATH=/nonexistent; bash /tests/run-tests.sh"
            result = box.exec(f"bash -c {polluted!r}", timeout=600)
            results = tb_parse(tb_python, result.stdout + result.stderr)
            assert set(results.values()) == {"passed"} and VERDICT_NAME in results
            # The same shell state given to the verifier itself fails it: the verdict really is fresh.
            direct = box.exec("bash -c 'ulimit -f 1; bash /tests/verify.sh'", timeout=600)
            assert tb_parse(tb_python, direct.stdout + direct.stderr)[VERDICT_NAME] == "failed"
    finally:
        with contextlib.suppress(DockerException):
            docker_client().images.remove(tag, force=True)


def test_a_registry_based_task_builds_on_the_gold_image_and_the_oracle_resolves_it(
    validated_task: ValidatedTask, registry_reference: str, tb_python: Path, tmp_path: Path
) -> None:
    task_dir = export_terminal_bench_task(
        validated_task.task,
        validated_task.gold,
        validated_task.gold_context,
        tmp_path / "tasks",
        hinted=True,
        gold_image_reference=registry_reference,
    )
    assert task_dir.name.endswith("-hinted")
    assert (task_dir / "Dockerfile").read_text().startswith(f"FROM {registry_reference}\n")
    assert not (task_dir / "src").exists() and not (task_dir / CONSTRAINTS_FILE).exists()
    tag = "cligym/test-tb-registry-task:latest"
    try:
        build_image(task_dir, tag)
    finally:
        with contextlib.suppress(DockerException):
            docker_client().images.remove(tag, force=True)
    assert tb_trial(tb_python, "oracle", task_dir, tmp_path / "runs")["is_resolved"] is True
