"""Harbor task directories (task.toml schema 1.4): instruction, a self-contained Dockerfile, a verifier that
restores the repository's tracked files before judging, and the oracle solution.

The verifier runs in the agent's container (``environment_mode = "shared"``): a repair task is judged on the
environment the agent repaired. Harbor copies /tests in only after the agent finished, so the pristine files
shipped there stay out of the agent's reach.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

from cligym.generation.gold.dockerfile import PYTEST_PLUGIN_MODULE, SOURCE_DIR_IN_CONTEXT, pytest_run_command
from cligym.generation.gold.record import GoldRecord
from cligym.generation.task_record import TaskRecord

VERIFIER_LOGS = "/logs/verifier"


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(_toml_string(v) for v in values) + "]"


def task_toml(task: TaskRecord, gold: GoldRecord, hinted: bool) -> str:
    validation = task.validation
    suite_seconds = max((run.duration_s for run in gold.runs), default=60.0)
    return "\n".join(
        [
            'schema_version = "1.4"',
            "artifacts = []",
            "",
            "[task]",
            f"name = {_toml_string('cligym/' + task.task_id + ('-hinted' if hinted else ''))}",
            'version = "1.0.0"',
            f"description = {_toml_string(f'Repair the environment of {gold.name} so its test suite passes again')}",
            "authors = []",
            f"keywords = {_toml_list(['cligym', 'repair', str(task.candidate.category), gold.name])}",
            "",
            "[metadata]",
            f"repo = {_toml_string(gold.name)}",
            f"category = {_toml_string(str(task.candidate.category))}",
            f"inverter = {_toml_string(task.candidate.inverter)}",
            f"difficulty = {_toml_string('hinted' if hinted else 'symptom-only')}",
            f"fail_to_pass = {len(validation.fail_to_pass)}",
            f"pass_to_pass = {len(validation.pass_to_pass)}",
            "",
            "[verifier]",
            f"timeout_sec = {max(600.0, round(4 * suite_seconds, 1))}",
            "# The verifier judges the container the agent repaired, so it must share it.",
            'environment_mode = "shared"',
            "",
            "[agent]",
            "timeout_sec = 1800.0",
            "",
            "[environment]",
            'network_mode = "public"',
            "build_timeout_sec = 1800.0",
            "cpus = 2",
            "memory_mb = 4096",
            "",
        ]
    )


def test_script(gold: GoldRecord) -> str:
    command = pytest_run_command(
        gold.base_test_command,
        plugin_dir="/tests",
        report_path=f"{VERIFIER_LOGS}/pytest-report.json",
        junit_path=f"{VERIFIER_LOGS}/junit.xml",
    )
    return f"""#!/bin/bash
# cligym verifier: restore the repository's tracked files, run the tests, reward 1 only if every
# fail-to-pass and pass-to-pass test passes.
mkdir -p {VERIFIER_LOGS}
echo 0 > {VERIFIER_LOGS}/reward.txt
cp -a /tests/pristine/. {gold.repo_path}/
# Test configuration the repository does not track (a conftest.py that forces passes...) is removed.
cd {gold.repo_path}
find . \\( -name conftest.py -o -name pytest.ini -o -name tox.ini -o -name setup.cfg -o -name pyproject.toml \\) \\
  -not -path '*/site-packages/*' -print | sed 's|^\\./||' | while read -r path; do
  grep -qxF "$path" /tests/tracked-files.txt || rm -f "$path"
done
( {command} ) > {VERIFIER_LOGS}/pytest-output.txt 2>&1
if python3 /tests/verdict.py /tests/expected.json {VERIFIER_LOGS}/pytest-report.json > {VERIFIER_LOGS}/reward.tmp; then
  mv {VERIFIER_LOGS}/reward.tmp {VERIFIER_LOGS}/reward.txt
fi
cat {VERIFIER_LOGS}/reward.txt
"""


def solve_script(task: TaskRecord) -> str:
    lines = ["#!/bin/bash", "# Oracle repair, validated by cligym.", "set -e", *task.candidate.repair_commands]
    return "\n".join(lines) + "\n"


def export_harbor_task(task: TaskRecord, gold: GoldRecord, gold_context: Path, out_dir: Path, hinted: bool) -> Path:
    """Write one Harbor task directory; returns its path. ``gold_context`` is the gold build's context
    (its Dockerfile and, for local and git sources, the source tree)."""
    name = task.task_id + ("-hinted" if hinted else "")
    task_dir = out_dir / name
    partial = out_dir / f".{name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    environment = partial / "environment"
    tests = partial / "tests"
    environment.mkdir(parents=True)
    tests.mkdir()
    (partial / "solution").mkdir()

    (partial / "task.toml").write_text(task_toml(task, gold, hinted))
    (partial / "instruction.md").write_text(task.statement_with_hint if hinted else task.statement)
    steps = "\n".join(step.render() for step in task.candidate.break_steps)
    (environment / "Dockerfile").write_text(gold.dockerfile + "\n" + steps + "\n")
    source = gold_context / SOURCE_DIR_IN_CONTEXT
    if source.is_dir():
        shutil.copytree(source, environment / SOURCE_DIR_IN_CONTEXT, symlinks=True)

    pristine = tests / "pristine"
    pristine_source = source if source.is_dir() else None
    _write_pristine(gold, pristine, pristine_source, task)
    package = resources.files("cligym.generation")
    (tests / f"{PYTEST_PLUGIN_MODULE}.py").write_text(package.joinpath("gold/pytest_report_plugin.py").read_text())
    (tests / "verdict.py").write_text(package.joinpath("export/verdict.py").read_text())
    expected = {"fail_to_pass": task.validation.fail_to_pass, "pass_to_pass": task.validation.pass_to_pass}
    (tests / "expected.json").write_text(json.dumps(expected, indent=1))
    (tests / "tracked-files.txt").write_text("".join(f"{path}\n" for path in sorted(gold.tracked_files)))
    (tests / "test.sh").write_text(test_script(gold))
    (partial / "solution" / "solve.sh").write_text(solve_script(task))
    for script in (tests / "test.sh", partial / "solution" / "solve.sh"):
        script.chmod(0o755)
    if task_dir.exists():
        shutil.rmtree(task_dir)
    partial.rename(task_dir)
    return task_dir


def _write_pristine(gold: GoldRecord, pristine: Path, source: Path | None, task: TaskRecord) -> None:
    """The repository's tracked files as the gold image has them (from the build context or the image)."""
    pristine.mkdir()
    if source is not None:
        for relative in gold.tracked_files:
            (pristine / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / relative, pristine / relative)
        return
    from cligym.sandbox import Sandbox  # an sdist is unpacked inside the image: read it from there

    with Sandbox(gold.image.tag, name_prefix="cligym-export") as box:
        for relative in gold.tracked_files:
            (pristine / relative).parent.mkdir(parents=True, exist_ok=True)
            (pristine / relative).write_bytes(box.read_file(f"{gold.repo_path}/{relative}"))
