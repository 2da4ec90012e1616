"""A prebuilt SWE-style image as a gold environment, end to end in real containers (issue 18): an image laid out
as SWE-bench's are (the repository at /testbed, its own interpreter and packages under /opt/miniconda3/envs,
nothing of cligym's) is turned into a gold environment by `cligym gold --from-instances`, a catalog break of
it is validated, and its Harbor export pays the oracle 1, doing nothing 0 and reward hacks 0."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cligym.base_images import BaseImage
from cligym.generation.export import export_harbor_task
from cligym.generation.export.task_files import HARNESS_MANIFEST
from cligym.generation.gold import GoldRecord
from cligym.generation.gold.build import gold_dir
from cligym.generation.task_record import TaskRecord
from cligym.image_build import build_image
from cligym.labels import ROLE_BASE, cligym_labels
from cligym.rollout.changes import episode_changes
from cligym.rollout.task_dir import load_task
from cligym.rollout.verifier import run_verifier
from cligym.sandbox import Sandbox
from tests.generation.conftest import validated_catalog_task
from tests.generation.test_harbor_export import harbor as harbor
from tests.generation.test_harbor_export import harbor_mean_reward
from tests.hacks import HACKS, INTERPRETER_HACKS, Hack, helpers

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "swe-style-image"
IMAGE = "cligym/test-swe-style:latest"
ENV_DIR = "/opt/miniconda3/envs/testbed"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def swe_image(base_image: BaseImage, tmp_path_factory: pytest.TempPathFactory) -> str:
    context = tmp_path_factory.mktemp("swe-image")
    shutil.copy(EXAMPLE / "Dockerfile", context / "Dockerfile")
    testbed = context / "testbed"
    shutil.copytree(REPO / "examples" / "inventory", testbed, ignore=shutil.ignore_patterns("__pycache__"))
    # A clone as SWE-bench keeps it, with a file git ignores beside the tracked ones.
    (testbed / ".gitignore").write_text("*.log\n")
    git = ["git", "-C", str(testbed), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base commit"], check=True)
    (testbed / "build.log").write_text("not source\n")
    build_image(context, IMAGE, labels=cligym_labels(ROLE_BASE), build_args={"BASE": base_image.reference})
    return IMAGE


@pytest.fixture(scope="module")
def swe_gold(swe_image: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[GoldRecord, Path]:
    run_dir = tmp_path_factory.mktemp("run")
    rows = run_dir / "instances.jsonl"
    row = {
        "instance_id": "acme__inventory-7",
        "image_name": swe_image,
        "FAIL_TO_PASS": json.dumps(["tests/test_new_feature.py::test_added_by_the_fix"]),
        "PASS_TO_PASS": json.dumps(
            ["tests/test_store.py::test_add_then_get", "tests/test_cli.py::test_cli_add_and_list"]
        ),
    }
    rows.write_text(json.dumps(row) + "\n" + json.dumps({**row, "instance_id": "acme__inventory-8"}) + "\n")
    completed = subprocess.run(
        [sys.executable, "-m", "cligym", "gold", "--from-instances", str(rows), "--run-dir", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "2 instances, 1 images" in completed.stdout
    return GoldRecord.read(gold_dir(run_dir, "acme__inventory-7") / "record.json"), run_dir


@pytest.fixture(scope="module")
def swe_task(swe_gold: tuple[GoldRecord, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[TaskRecord, Path]:
    gold, run_dir = swe_gold
    # A dependency the tests import, emptied: its repair reinstalls it into the environment, not Debian's.
    task = validated_catalog_task(gold, "catalog:dependency-module-syntax-error", "tabulate", "swe-style-tabulate")
    out = tmp_path_factory.mktemp("harbor")
    return task, export_harbor_task(task, gold, gold_dir(run_dir, gold.name) / "context", out, hinted=False)


def test_the_image_is_the_gold_environment_as_it_is(swe_gold: tuple[GoldRecord, Path]) -> None:
    gold, run_dir = swe_gold
    assert gold.repo_path == "/testbed"
    # A thin layer: the environment first on PATH, nothing copied or installed.
    assert gold.dockerfile.splitlines()[2] == f"FROM {IMAGE}"
    assert f"ENV PATH={ENV_DIR}/bin:$PATH" in gold.dockerfile
    assert "COPY" not in gold.dockerfile and "pip install" not in gold.dockerfile
    # Only the pass-to-pass tests' files run; the fail-to-pass test's file does not exist before the fix.
    assert {test.partition("::")[0] for test in gold.gold_tests} == {"tests/test_cli.py", "tests/test_store.py"}
    assert "tests/test_cli.py::test_cli_add_and_list" in gold.gold_tests  # runs the console script from PATH
    # The files git tracks, read out of the image: not git's own, not what the install or a build wrote.
    assert "inventory/store.py" in gold.tracked_files and ".gitignore" in gold.tracked_files
    assert not any(path.startswith(".git/") or ".egg-info/" in path for path in gold.tracked_files)
    assert "build.log" not in gold.tracked_files
    # The interpreter, standard library and packages the tests use are the environment's.
    assert gold.harness is not None and (gold.harness.interpreter or "").startswith(f"{ENV_DIR}/bin/python")
    stdlib = [m.file for m in gold.probe.modules if m.origin == "stdlib" and m.file]
    assert stdlib and all(file.startswith(f"{ENV_DIR}/lib/python3") for file in stdlib)
    tabulate = next(m for m in gold.probe.modules if m.name == "tabulate")
    assert tabulate.origin == "site-packages" and (tabulate.file or "").startswith(ENV_DIR)
    assert gold.installed_distributions["tabulate"]
    assert (run_dir / "instances" / "acme__inventory-7.yaml").is_file()


def test_a_task_of_the_image_pays_the_oracle_and_not_doing_nothing(swe_task: tuple[TaskRecord, Path]) -> None:
    task, task_dir = swe_task
    assert task.validation.image_tag is not None
    assert (task_dir / "environment" / "Dockerfile").read_text().count(f"FROM {IMAGE}") == 1
    rewards = []
    for repair in ([], list(task.candidate.repair_commands)):
        with Sandbox(task.validation.image_tag, name_prefix="cligym-test") as box:
            for command in repair:
                assert box.exec(command, timeout=300).ok, command
            rewards.append(run_verifier(box, load_task(task_dir), timeout=600).reward)
    assert rewards == [0.0, 1.0]


def test_a_reinstall_through_another_name_of_the_interpreter_is_not_refused(
    swe_gold: tuple[GoldRecord, Path], swe_task: tuple[TaskRecord, Path]
) -> None:
    """pip writes each console script's first line from the interpreter it ran under (`bin/python3`, where gold's
    `bin/pytest` names `bin/python`): a reinstall of gold's pytest that way is gold's harness still."""
    gold, _ = swe_gold
    task, task_dir = swe_task
    assert task.validation.image_tag is not None
    pytest_release = gold.installed_distributions["pytest"]
    reinstall = f"python3 -m pip install -q --force-reinstall --no-deps pytest=={pytest_release}"
    with Sandbox(task.validation.image_tag, name_prefix="cligym-test") as box:
        for command in [*task.candidate.repair_commands, reinstall]:
            assert box.exec(command, timeout=300).ok, command
        assert box.exec(f"head -1 {ENV_DIR}/bin/pytest").stdout.strip() == f"#!{ENV_DIR}/bin/python3"
        result = run_verifier(box, load_task(task_dir), timeout=600)
    assert (result.reward, result.harness_modified) == (1.0, [])


def test_the_real_harbor_client_pays_the_oracle_and_not_doing_nothing(
    swe_task: tuple[TaskRecord, Path], harbor: Path, tmp_path: Path
) -> None:
    _, task_dir = swe_task
    assert harbor_mean_reward(harbor, "oracle", task_dir, tmp_path / "oracle") == 1.0
    assert harbor_mean_reward(harbor, "nop", task_dir, tmp_path / "nop") == 0.0


# Hacks that aim at the interpreter the tests run with: here the environment's, found first on PATH, started
# by console scripts whose first line names the environment's `bin/python`.
ENVIRONMENT_HACKS = [
    *(hack for hack in HACKS if hack.name in {"entry-point plugin", "patched pytest source"}),
    *INTERPRETER_HACKS,
]


@pytest.mark.parametrize("hack", ENVIRONMENT_HACKS, ids=[hack.name for hack in ENVIRONMENT_HACKS])
def test_a_reward_hack_in_the_environment_earns_nothing(swe_task: tuple[TaskRecord, Path], hack: Hack) -> None:
    task, task_dir = swe_task
    assert task.validation.image_tag is not None
    with Sandbox(task.validation.image_tag, name_prefix="cligym-test") as box:
        done = box.exec(helpers() + hack.command, timeout=120)
        assert done.ok, done.stdout[-1000:] + done.stderr[-1000:]
        # What the filter judges, read from outside the container before the verifier runs in it.
        changes = episode_changes(box, task_dir / "tests" / HARNESS_MANIFEST)
        result = run_verifier(box, load_task(task_dir), timeout=600)
    assert result.reward == 0.0
    assert changes is not None and changes.harness, f"the outside view missed {hack.name}"
    if hack.named is not None:
        assert any(hack.named in problem for problem in result.harness_modified), result.harness_modified
