"""Our files as Harbor itself reads them, on Python 3.12 (issue 17 item 7): every exported task directory loads
with Harbor's ``TaskConfig`` and ``Task`` and reads back the values we wrote, `harbor lint` finds nothing
but the shared verifier we chose, and the saved Harbor job the importer reads (trial results, configs, the
ATIF trajectory) validates against Harbor's models and reads the same through ours. Each check also rejects
a deliberately broken copy, so a pass means something."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cligym.generation.export import export_harbor_task
from cligym.generation.export.task_toml import TaskToml
from cligym.rollout.harbor.files import AtifTrajectory, TrialResult, read_model
from tests.generation.conftest import ValidatedTask

JOB = Path(__file__).resolve().parents[1] / "fixtures" / "harbor-job" / "import-test"
TRIALS = sorted(path.parent for path in JOB.glob("*/result.json"))

# The one finding `harbor lint` may report on our tasks, by rule id. Harbor prefers a separate verifier
# sandbox; a repair task is judged on the very container the agent repaired, so ours shares it on purpose
# (generation/export/harbor.py). Any other rule fails the test.
INTENTIONAL_LINT_RULES = {"shared-verifier"}

# Reads each file with the named Harbor model and prints what Harbor made of it, one JSON line per file.
READ_WITH_MODEL = """
import importlib, sys
module, _, name = sys.argv[1].rpartition(".")
model = getattr(importlib.import_module(module), name)
for path in sys.argv[2:]:
    print(model.model_validate_json(open(path, "rb").read()).model_dump_json())
"""

# Loads each task directory the ways Harbor's own commands do: the config alone, the directory check, and
# the Task object a trial is built from (it raises on a missing verifier script or instruction).
LOAD_TASK_DIRS = """
import json, sys
from pathlib import Path
from harbor.models.task.config import TaskConfig
from harbor.models.task.task import Task
for arg in sys.argv[1:]:
    path = Path(arg)
    config = TaskConfig.model_validate_toml((path / "task.toml").read_text())
    assert Task.is_valid_dir(path), f"Task.is_valid_dir rejects {path}"
    task = Task(path)
    print(json.dumps({"config": config.model_dump(mode="json"), "name": task.name, "instruction": task.instruction}))
"""


def harbor_run(harbor_python: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(harbor_python), *argv], capture_output=True, text=True, timeout=300)


def harbor_reads(harbor_python: Path, script: str, *args: str) -> list[dict[str, Any]]:
    """What Harbor read, one document per input; a rejection fails the test with Harbor's own error."""
    completed = harbor_run(harbor_python, "-c", script, *args)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return [json.loads(line) for line in completed.stdout.splitlines()]


def harbor_rejects(harbor_python: Path, script: str, *args: str) -> str:
    """Harbor's error for inputs it must refuse."""
    completed = harbor_run(harbor_python, "-c", script, *args)
    assert completed.returncode != 0, f"Harbor accepted {args}"
    return completed.stderr


def lint_findings(harbor_python: Path, task_dir: Path) -> list[dict[str, Any]]:
    """`harbor lint --json` with Harbor's default rules (all static: no model, no network, no daemon)."""
    completed = harbor_run(harbor_python.parent / "harbor", "lint", "--json", str(task_dir))
    # 0: no findings, 1: findings; anything else is lint failing to run.
    assert completed.returncode in (0, 1), completed.stdout[-2000:] + completed.stderr[-2000:]
    findings: list[dict[str, Any]] = json.loads(completed.stdout or "[]")
    return findings


def unintended(findings: list[dict[str, Any]], task_dir: Path) -> list[str]:
    """The findings outside the allowance, as `harbor lint` prints them: path[:line] [rule] message."""
    described = []
    for finding in findings:
        if finding["rule"] not in INTENTIONAL_LINT_RULES:
            where = str(Path(finding["path"]).relative_to(task_dir.resolve()))
            where += f":{finding['line']}" if finding["line"] else ""
            described.append(f"{where} [{finding['rule']}] {finding['message']}")
    return described


def broken_copy(task_dir: Path, destination: Path) -> Path:
    copy = destination / task_dir.name
    shutil.copytree(task_dir, copy, symlinks=True)
    return copy


@pytest.mark.slow
def test_harbor_runs_on_python_3_12(harbor_python: Path) -> None:
    completed = harbor_run(harbor_python, "-c", "import sys, harbor; print(*sys.version_info[:2])")
    assert completed.stdout.split() == ["3", "12"], completed.stderr


# -- exported task directories ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task_dirs(
    exported_task_dir: Path, validated_task: ValidatedTask, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    """Every kind of directory the exporter writes: symptom-only, hinted, and built on a registry's gold
    image (the reference is only written into the Dockerfile, so no registry is needed to lint it)."""
    out = tmp_path_factory.mktemp("conformance-tasks")
    hinted = export_harbor_task(
        validated_task.task, validated_task.gold, validated_task.gold_context, out / "hinted", hinted=True
    )
    registry_based = export_harbor_task(
        validated_task.task,
        validated_task.gold,
        validated_task.gold_context,
        out / "registry",
        hinted=False,
        gold_image_reference="registry.example:5000/team/inventory-gold:1",
    )
    return [exported_task_dir, hinted, registry_based]


@pytest.mark.docker
@pytest.mark.slow
def test_harbor_loads_every_exported_task_and_reads_back_what_we_wrote(
    task_dirs: list[Path], harbor_python: Path
) -> None:
    loaded = harbor_reads(harbor_python, LOAD_TASK_DIRS, *map(str, task_dirs))
    assert len(loaded) == len(task_dirs)
    for task_dir, harbor in zip(task_dirs, loaded, strict=True):
        ours = TaskToml.read(task_dir / "task.toml")
        config = harbor["config"]
        # A misspelt key would leave Harbor's default in place: compare values, not just acceptance.
        assert config["schema_version"] == ours.schema_version
        assert harbor["name"] == config["task"]["name"] == ours.task.name
        assert config["task"]["keywords"] == ours.task.keywords
        assert config["verifier"]["environment_mode"] == "shared"
        assert config["verifier"]["timeout_sec"] == ours.verifier.timeout_sec
        assert config["agent"]["timeout_sec"] == ours.agent.timeout_sec
        environment = config["environment"]
        assert environment["network_mode"] == ours.environment.network_mode
        assert environment["build_timeout_sec"] == ours.environment.build_timeout_sec
        assert (environment["cpus"], environment["memory_mb"]) == (ours.environment.cpus, ours.environment.memory_mb)
        assert config["metadata"] == ours.metadata.model_dump(exclude_none=True)
        assert harbor["instruction"] == (task_dir / "instruction.md").read_text()


@pytest.mark.docker
@pytest.mark.slow
def test_harbor_rejects_a_mistyped_task_toml_and_a_task_without_its_verifier(
    exported_task_dir: Path, harbor_python: Path, tmp_path: Path
) -> None:
    mistyped = broken_copy(exported_task_dir, tmp_path / "mistyped")
    toml = mistyped / "task.toml"
    text, replaced = re.subn(r"(\[verifier\]\n(?:#.*\n)*)timeout_sec = .*", r'\1timeout_sec = "soon"', toml.read_text())
    assert replaced == 1
    toml.write_text(text)
    assert "verifier.timeout_sec" in harbor_rejects(harbor_python, LOAD_TASK_DIRS, str(mistyped))
    no_verifier = broken_copy(exported_task_dir, tmp_path / "no-verifier")
    (no_verifier / "tests" / "test.sh").unlink()
    assert "Task.is_valid_dir rejects" in harbor_rejects(harbor_python, LOAD_TASK_DIRS, str(no_verifier))


@pytest.mark.docker
@pytest.mark.slow
def test_harbor_lint_finds_only_the_intentional_shared_verifier(task_dirs: list[Path], harbor_python: Path) -> None:
    for task_dir in task_dirs:
        findings = lint_findings(harbor_python, task_dir)
        assert unintended(findings, task_dir) == [], task_dir.name
        # The shared verifier is still reported: the allowance is for a finding that exists.
        assert [finding["rule"] for finding in findings] == ["shared-verifier"], task_dir.name


@pytest.mark.docker
@pytest.mark.slow
def test_harbor_lint_catches_what_is_not_intentional(
    exported_task_dir: Path, harbor_python: Path, tmp_path: Path
) -> None:
    broken = broken_copy(exported_task_dir, tmp_path)
    toml = broken / "task.toml"
    toml.write_text(toml.read_text().replace("\n[agent]\n", "\n[agent]\ntimeout_secs = 60.0\n", 1))
    (broken / "instruction.md").write_text("\n")
    before = set(unintended(lint_findings(harbor_python, exported_task_dir), exported_task_dir))
    after = set(unintended(lint_findings(harbor_python, broken), broken))
    assert sorted(after - before) == [
        "instruction.md [invalid-task-files] Instruction is empty; describe the agent's task.",
        "task.toml [unknown-config-field] Unknown field 'agent.timeout_secs'; remove or correct it."
        " Did you mean 'timeout_sec'?",
    ]


# -- the saved Harbor job the importer reads ----------------------------------------------------------------


def test_the_saved_job_holds_the_trials_checked_here() -> None:
    assert [trial.name for trial in TRIALS] == ["nop", "oracle", "terminus-2"]
    assert (JOB / "terminus-2" / "agent" / "trajectory.json").is_file()


@pytest.mark.slow
def test_harbor_reads_every_trial_result_as_our_importer_does(harbor_python: Path) -> None:
    results = [trial / "result.json" for trial in TRIALS]
    harbor = harbor_reads(harbor_python, READ_WITH_MODEL, "harbor.models.trial.result.TrialResult", *map(str, results))
    for path, theirs in zip(results, harbor, strict=True):
        ours = read_model(path, TrialResult)
        assert (theirs["task_name"], theirs["trial_name"]) == (ours.task_name, ours.trial_name)
        assert ours.verifier_result is not None
        assert theirs["verifier_result"]["rewards"] == ours.verifier_result.rewards
        assert theirs["agent_info"]["name"] == (ours.agent_info.name if ours.agent_info else None)
        assert theirs["verifier_environment_mode"] == "shared"
    harbor_reads(
        harbor_python,
        READ_WITH_MODEL,
        "harbor.models.trial.config.TrialConfig",
        *(str(t / "config.json") for t in TRIALS),
    )


@pytest.mark.slow
def test_harbor_reads_the_jobs_own_result_and_config(harbor_python: Path) -> None:
    (result,) = harbor_reads(
        harbor_python, READ_WITH_MODEL, "harbor.models.job.result.JobResult", str(JOB / "result.json")
    )
    assert result["n_total_trials"] == len(TRIALS)
    harbor_reads(harbor_python, READ_WITH_MODEL, "harbor.models.job.config.JobConfig", str(JOB / "config.json"))


@pytest.mark.slow
def test_harbor_reads_the_atif_trajectory_as_our_importer_does(harbor_python: Path) -> None:
    path = JOB / "terminus-2" / "agent" / "trajectory.json"
    (theirs,) = harbor_reads(harbor_python, READ_WITH_MODEL, "harbor.models.trajectories.Trajectory", str(path))
    ours = read_model(path, AtifTrajectory)
    assert theirs["schema_version"] == ours.schema_version
    assert [(s["step_id"], s["source"]) for s in theirs["steps"]] == [(s.step_id, s.source) for s in ours.steps]
    calls = [[call["tool_call_id"] for call in step["tool_calls"] or []] for step in theirs["steps"]]
    assert calls == [[call.tool_call_id for call in step.tool_calls or []] for step in ours.steps]
    assert ours.final_metrics is not None
    assert theirs["final_metrics"]["total_prompt_tokens"] == ours.final_metrics.total_prompt_tokens


@pytest.mark.slow
def test_harbor_rejects_a_broken_trajectory_and_a_broken_result(harbor_python: Path, tmp_path: Path) -> None:
    atif = json.loads((JOB / "terminus-2" / "agent" / "trajectory.json").read_text())
    atif["steps"][1]["tool_call"] = atif["steps"][1].pop("tool_calls")  # ATIF forbids unknown fields
    trajectory = tmp_path / "trajectory.json"
    trajectory.write_text(json.dumps(atif))
    error = harbor_rejects(harbor_python, READ_WITH_MODEL, "harbor.models.trajectories.Trajectory", str(trajectory))
    assert "steps.1.tool_call" in error
    trial = json.loads((JOB / "oracle" / "result.json").read_text())
    trial["verifier_result"]["rewards"]["reward"] = "high"
    result = tmp_path / "result.json"
    result.write_text(json.dumps(trial))
    error = harbor_rejects(harbor_python, READ_WITH_MODEL, "harbor.models.trial.result.TrialResult", str(result))
    assert "verifier_result.rewards.reward" in error
