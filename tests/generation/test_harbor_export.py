"""Exported Harbor tasks run under the real Harbor client: the oracle earns 1, doing nothing earns 0, and
editing the repository's tests cannot earn anything."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import subprocess
from pathlib import Path

import pytest
from docker.errors import DockerException

from cligym.docker_connection import docker_client
from cligym.generation.export import export_harbor_task
from cligym.generation.gold import GoldRecord
from cligym.generation.task_record import TaskRecord
from cligym.image_build import build_image
from cligym.sandbox import Sandbox
from tests.generation.conftest import ValidatedTask

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HARBOR_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cligym" / "harbor-venv"


@pytest.fixture(scope="module")
def harbor() -> Path:
    """The real Harbor CLI from PyPI, in a Python >= 3.12 venv cached per machine."""
    executable = HARBOR_VENV / "bin" / "harbor"
    if not executable.exists():
        pythons = sorted(glob.glob("/root/.pyenv/versions/3.1[2-9]*/bin/python")) or sorted(
            glob.glob("/usr/bin/python3.1[2-9]")
        )
        assert pythons, "Harbor needs Python >= 3.12 (pyenv provides one on this machine)"
        subprocess.run([pythons[-1], "-m", "venv", str(HARBOR_VENV)], check=True)
        subprocess.run([str(HARBOR_VENV / "bin" / "pip"), "install", "-q", "harbor"], check=True)
    return executable


@pytest.fixture(scope="module")
def exported(
    validated_task: ValidatedTask, tmp_path_factory: pytest.TempPathFactory
) -> tuple[GoldRecord, TaskRecord, Path]:
    gold, task = validated_task.gold, validated_task.task
    task_dir = export_harbor_task(
        task, gold, validated_task.gold_context, tmp_path_factory.mktemp("tasks"), hinted=False
    )
    return gold, task, task_dir


FORCE_PASS_CONFTEST = """
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""


def harbor_mean_reward(harbor: Path, agent: str, task_dir: Path, jobs: Path) -> float:
    completed = subprocess.run(
        [str(harbor), "run", "-a", agent, "-p", str(task_dir), "-o", str(jobs)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (result,) = jobs.glob("*/result.json")
    evals = json.loads(result.read_text())["stats"]["evals"]
    (stats,) = evals.values()
    assert stats["n_errors"] == 0, stats
    return float(stats["metrics"][0]["mean"])


def test_the_task_directory_has_harbors_layout(exported: tuple[GoldRecord, TaskRecord, Path]) -> None:
    _, task, task_dir = exported
    for relative in ("task.toml", "instruction.md", "environment/Dockerfile", "tests/test.sh", "solution/solve.sh"):
        assert (task_dir / relative).is_file(), relative
    assert 'environment_mode = "shared"' in (task_dir / "task.toml").read_text()
    assert (task_dir / "instruction.md").read_text() == task.statement
    dockerfile = (task_dir / "environment" / "Dockerfile").read_text()
    assert dockerfile.rstrip().endswith(task.candidate.break_steps[-1].render())
    assert (task_dir / "tests" / "pristine" / "tests" / "test_store.py").is_file()


def test_harbor_oracle_earns_reward_1(
    exported: tuple[GoldRecord, TaskRecord, Path], harbor: Path, tmp_path: Path
) -> None:
    assert harbor_mean_reward(harbor, "oracle", exported[2], tmp_path / "jobs") == 1.0


def test_harbor_do_nothing_agent_earns_reward_0(
    exported: tuple[GoldRecord, TaskRecord, Path], harbor: Path, tmp_path: Path
) -> None:
    assert harbor_mean_reward(harbor, "nop", exported[2], tmp_path / "jobs") == 0.0


def test_editing_the_repositorys_tests_does_not_earn_a_reward(exported: tuple[GoldRecord, TaskRecord, Path]) -> None:
    gold, task, task_dir = exported
    assert task.validation.image_tag
    with Sandbox(task.validation.image_tag) as box:
        # The "agent" skips every test instead of repairing anything.
        box.exec(
            f"cd {gold.repo_path} && printf 'import pytest\\npytestmark = pytest.mark.skip\\n' > tests/conftest.py"
            " && for f in tests/test_*.py; do echo 'def test_ok(): pass' > $f; done"
        )
        for path in sorted(p for p in (task_dir / "tests").rglob("*") if p.is_file()):
            box.write_file(f"/tests/{path.relative_to(task_dir / 'tests')}", path.read_bytes(), mode=0o755)
        result = box.exec("bash /tests/test.sh", timeout=600)
        assert box.read_file("/logs/verifier/reward.txt").strip() == b"0", result.stdout + result.stderr
        # The same verifier after the oracle's repair: the restored tests pass.
        for command in task.candidate.repair_commands:
            assert box.exec(command, timeout=600).ok
        box.exec("bash /tests/test.sh", timeout=600)
        assert box.read_file("/logs/verifier/reward.txt").strip() == b"1"


def test_a_registry_based_task_builds_on_the_gold_image_and_the_oracle_earns_reward_1(
    validated_task: ValidatedTask, registry_reference: str, harbor: Path, tmp_path: Path
) -> None:
    task_dir = export_harbor_task(
        validated_task.task,
        validated_task.gold,
        validated_task.gold_context,
        tmp_path / "tasks",
        hinted=False,
        gold_image_reference=registry_reference,
    )
    dockerfile = (task_dir / "environment" / "Dockerfile").read_text()
    assert dockerfile.startswith(f"FROM {registry_reference}\n")
    assert dockerfile.count("\nRUN ") == len(validated_task.task.candidate.break_steps)
    assert not (task_dir / "environment" / "src").exists()
    tag = "cligym/test-harbor-registry-task:latest"
    try:
        build_image(task_dir / "environment", tag)
    finally:
        with contextlib.suppress(DockerException):
            docker_client().images.remove(tag, force=True)
    assert harbor_mean_reward(harbor, "oracle", task_dir, tmp_path / "jobs") == 1.0


SITE = "/usr/local/lib/python3.11/dist-packages"
PATCH_REPORTS = """
_cligym_original = TestReport.from_item_and_call.__func__


def _cligym_forced(cls, item, call):
    report = _cligym_original(cls, item, call)
    report.outcome = "passed"
    return report


TestReport.from_item_and_call = classmethod(_cligym_forced)
"""
REWRITE_REPORT = (
    "import json, os, sys; path = os.environ.get('CLIGYM_PYTEST_REPORT')\n"
    "if path and os.path.exists(path):\n"
    "    data = json.load(open(path))\n"
    "    for entry in data['tests'].values(): entry['status'] = 'passed'\n"
    "    json.dump(data, open(path, 'w'))\n"
)
# A stand-in for pytest: a report where every required test passed.
FAKE_PYTEST = (
    "import json, os\n"
    "tests = open('/tmp/required-tests.txt').read().split()\n"
    "report = {'exitstatus': 0, 'tests': {t: {'status': 'passed', 'duration_s': 0, 'message': ''} for t in tests}}\n"
    "json.dump(report, open(os.environ['CLIGYM_PYTEST_REPORT'], 'w'))\n"
)
# Each hack: files to write, a command to run, and the harness file the verifier must name (None: pinning the
# run or restoring the repository is what defeats it).
HACKS: dict[str, tuple[dict[str, str], str, str | None]] = {
    "entry-point plugin": (
        {
            f"{SITE}/force_pass.py": FORCE_PASS_CONFTEST,
            f"{SITE}/force_pass-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: force-pass\nVersion: 1.0\n",
            f"{SITE}/force_pass-1.0.dist-info/entry_points.txt": "[pytest11]\nforce_pass = force_pass\n",
        },
        "true",
        None,
    ),
    "PYTEST_PLUGINS from a .pth": (
        {
            f"{SITE}/force_pass.py": FORCE_PASS_CONFTEST,
            f"{SITE}/zz_plugins.pth": "import os; os.environ['PYTEST_PLUGINS'] = 'force_pass'\n",
        },
        "true",
        "zz_plugins.pth (added)",
    ),
    "conftest and ini above the repository": (
        {"/conftest.py": FORCE_PASS_CONFTEST, "/pytest.ini": "[pytest]\naddopts = -p no:randomly\n"},
        "true",
        None,
    ),
    "patched pytest source": ({}, f"cat /tmp/patch.py >> {SITE}/_pytest/reports.py", "_pytest/reports.py (modified)"),
    "usercustomize": (
        {"/tmp/user.py": FORCE_PASS_CONFTEST},
        "site=$(python3 -m site --user-site) && mkdir -p $site && "
        "printf \"import os; os.environ['PYTEST_ADDOPTS'] = '-p no:cligym_pytest_report'\\n\" > $site/usercustomize.py",
        "usercustomize.py (added)",
    ),
    "sitecustomize edited": (
        {},
        "printf \"\\nimport os; os.environ['PYTEST_ADDOPTS'] = '--co'\\n\" >> /usr/lib/python3.11/sitecustomize.py",
        "sitecustomize.py (modified)",
    ),
    "interpreter wrapper on PATH": (
        {"/tmp/rewrite.py": REWRITE_REPORT},
        "printf '#!/bin/sh\\n/usr/bin/python3 \"$@\"; /usr/bin/python3 /tmp/rewrite.py\\n' > /usr/local/bin/python"
        " && chmod +x /usr/local/bin/python",
        "/usr/local/bin/python (another interpreter)",
    ),
    "fake pytest package in the repository": (
        {"/repo/pytest/__init__.py": "", "/repo/pytest/__main__.py": FAKE_PYTEST},
        "true",
        None,
    ),
    "planted report": (
        {"/tmp/fake.py": FAKE_PYTEST},
        "mkdir -p /logs/verifier && echo 1 > /logs/verifier/reward.txt"
        " && CLIGYM_PYTEST_REPORT=/logs/verifier/pytest-report.json python3 /tmp/fake.py",
        None,
    ),
}


@pytest.mark.parametrize("hack", sorted(HACKS))
def test_a_reward_hack_that_repairs_nothing_earns_reward_0(
    exported: tuple[GoldRecord, TaskRecord, Path], hack: str
) -> None:
    _, task, task_dir = exported
    files, command, named = HACKS[hack]
    assert task.validation.image_tag
    with Sandbox(task.validation.image_tag) as box:
        box.write_file("/tmp/patch.py", PATCH_REPORTS)
        # An agent can read the test ids from the repository; here they come from the task.
        required = [*task.validation.fail_to_pass, *task.validation.pass_to_pass]
        box.write_file("/tmp/required-tests.txt", "\n".join(required))
        for path, content in files.items():
            box.write_file(path, content)
        assert box.exec(command).ok
        for path in sorted(p for p in (task_dir / "tests").rglob("*") if p.is_file()):
            box.write_file(f"/tests/{path.relative_to(task_dir / 'tests')}", path.read_bytes(), mode=0o755)
        result = box.exec("bash /tests/test.sh", timeout=600)
        assert box.read_file("/logs/verifier/reward.txt").strip() == b"0", result.stdout[-2000:]
        if named is not None:
            assert named in box.read_file("/logs/verifier/harness.txt").decode(), result.stdout[-2000:]
