"""`cligym generate` end to end on the bundled example: valid tasks of several categories, exported for
Harbor, and a re-run that judges nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cligym.base_images import BaseImage
from cligym.generation.attempt_log import read_attempts
from cligym.generation.gold import GoldRecord
from cligym.generation.gold.build import gold_dir
from cligym.generation.task_record import TaskRecord
from cligym.run_state import RunState

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def generate(out: Path, tasks: int, spec: str = "inventory", *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cligym",
            "generate",
            str(REPO / "configs" / "repos" / f"{spec}.yaml"),
            "--tasks",
            str(tasks),
            "--out",
            str(out),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "COLUMNS": "250"},
    )


def test_generate_makes_valid_tasks_of_several_categories_and_resumes(base_image: BaseImage, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = generate(out, tasks=3)
    assert first.returncode == 0, first.stdout + first.stderr
    records = [TaskRecord.model_validate_json(p.read_text()) for p in sorted((out / "tasks").glob("*/record.json"))]
    assert len(records) == 3
    assert len({record.candidate.category for record in records}) >= 2
    for record in records:
        assert record.validation.valid and record.validation.fail_to_pass
        assert record.statement != record.statement_with_hint
        for name in (record.task_id, record.task_id + "-hinted"):
            task_dir = out / "harbor" / name
            assert (task_dir / "task.toml").is_file() and (task_dir / "tests" / "test.sh").is_file()
            expected = json.loads((task_dir / "tests" / "expected.json").read_text())
            assert expected["fail_to_pass"] == record.validation.fail_to_pass
            tb_dir = out / "terminal-bench" / name
            assert (tb_dir / "task.yaml").is_file() and (tb_dir / "run-tests.sh").is_file()
    row = next(line for line in first.stdout.splitlines() if line.startswith("│ inventory"))
    assert row.split("│")[3].strip() == "3"
    assert "yield" in first.stdout and "deterministic" in first.stdout  # the report follows the table

    state = RunState(out)
    judged = {unit.key for unit in state.units("candidate")}
    state.close()
    again = generate(out, tasks=3)
    assert again.returncode == 0, again.stdout + again.stderr
    state = RunState(out)
    assert {unit.key for unit in state.units("candidate")} == judged
    assert all(unit.attempts == 1 for unit in state.units("candidate"))
    state.close()
    attempts = read_attempts(out, "inventory")
    assert len(attempts) == len(judged) and len({a.key for a in attempts}) == len(attempts)
    valid = [a for a in attempts if a.valid]
    assert sorted(str(a.task_id) for a in valid) == sorted(r.task_id for r in records)
    assert all(a.disk_bytes_added is not None and a.disk_bytes_added < 50_000_000 for a in valid)
    assert all(a.rejected_by and a.reason for a in attempts if not a.valid)


def test_generate_on_a_real_pypi_project_makes_valid_tasks(base_image: BaseImage, tmp_path: Path) -> None:
    """tabulate 0.9.0 from its PyPI sdist: the installed egg-info differs from the sdist's and is not held
    against the candidates; tasks come out valid and exported."""
    out = tmp_path / "run"
    # The depth sweep is covered in test_validation; this test is about a real sdist's gold environment.
    result = generate(out, 2, "tabulate", "--combine", "0", "-o", "generation.depth_sweep=false")
    assert result.returncode == 0, result.stdout + result.stderr
    attempts = read_attempts(out, "tabulate")
    valid = [a for a in attempts if a.valid]
    assert len(valid) == 2
    assert not any(a.rejected_by == "repo_untouched" for a in attempts)
    for attempt in valid:
        assert attempt.validation.fail_to_pass
        assert len(attempt.validation.fail_to_pass) + len(attempt.validation.pass_to_pass) == 247
        assert (out / "harbor" / str(attempt.task_id) / "environment" / "Dockerfile").is_file()
    # The gold environment of a pure-Python sdist (markupsafe's C extension: test_gold_build.py).
    record = GoldRecord.model_validate_json((gold_dir(out, "tabulate") / "record.json").read_text())
    assert record.source.startswith("PyPI sdist")
    assert len(record.gold_tests) == 247 and record.flaky_tests == []
    assert set(record.gold_tests) <= set(record.collected_tests)
    assert not record.install_plan.has_c_extension and "build-essential" not in record.dockerfile
    assert {m.name: m for m in record.probe.modules}["tabulate"].origin == "repo"
    assert not any(Path(lib.path).name.startswith("_speedups") for lib in record.probe.shared_libraries)
