"""`cligym report`: the numbers come from the attempt log and gold records, per repository and for the whole
run; a crash's partial line is ignored; a run without attempts is a one-line error."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from cligym.cli.report_command import print_report
from cligym.errors import CligymError
from cligym.generation.attempt_log import append_attempt, attempts_path, read_attempts
from cligym.generation.operators.base import Category, run
from cligym.generation.report import generation_report
from cligym.generation.task_record import Attempt, Candidate, Provenance, RejectionName, Validation
from tests.generation.conftest import ValidatedTask

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def attempt(
    index: int,
    category: Category,
    rejected_by: RejectionName | None,
    tokens: int = 0,
    disk: int | None = None,
    repo: str = "demo",
) -> Attempt:
    candidate = Candidate(
        repo=repo,
        category=category,
        inverter="agent:test-model" if tokens else "catalog:module-deleted",
        description=f"candidate {index}",
        break_steps=[run(f"rm -f /x{index}")],
        repair_commands=["true"],
        provenance=Provenance(prompt_tokens=tokens, seconds=5.0 if tokens else 0.0),
    )
    validation = Validation(seconds={"builds": 1.0, "breaks": 2.0}, fail_to_pass=["t::a"] if not rejected_by else [])
    return Attempt(
        repo=repo,
        key=f"k{index}",
        candidate=candidate,
        validation=validation,
        rejected_by=rejected_by,
        reason="" if rejected_by is None else "because",
        task_id=None if rejected_by else f"{repo}-k{index}",
        disk_bytes_added=disk,
        started_at=START + timedelta(seconds=10 * index),
        finished_at=START + timedelta(seconds=10 * index + 10),
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    for record in [
        attempt(0, Category.SHARED_LIBRARY, None, disk=2_000_000),
        attempt(1, Category.SHARED_LIBRARY, "breaks"),
        attempt(2, Category.PYTHON_PACKAGE, None, tokens=1000, disk=4_000_000),
        attempt(3, Category.PYTHON_PACKAGE, "near_duplicate"),
        attempt(4, Category.FILE_SYSTEM, "breaks", repo="other"),
    ]:
        append_attempt(tmp_path, record)
    return tmp_path


def test_diversity_counts_causes_failing_sets_and_seconds_by_outcome(run_dir: Path) -> None:
    diversity = generation_report(run_dir).diversity.set_index("repo")
    demo = diversity.loc["demo"]
    # Two valid tasks, two categories, two causes, one failing set (both fail t::a).
    assert (demo["valid"], demo["categories"], demo["causes"], demo["failing_sets"]) == (2, 2, 2, 1)
    assert demo["max_per_failing_set"] == 2
    assert demo["broke_nothing_s"] == pytest.approx(3.0) and demo["valid_s"] == pytest.approx(5.5)
    assert diversity.loc["other", "valid"] == 0 and diversity.loc["all", "valid"] == 2


def test_totals_count_yield_and_costs_per_valid_task(run_dir: Path) -> None:
    totals = generation_report(run_dir).totals
    assert (totals.candidates, totals.valid, totals.yield_) == (5, 2, 0.4)
    # 5 attempts with 3 s of validation each, plus 5 s the agent spent proposing, over 2 valid tasks.
    assert totals.seconds_per_valid == pytest.approx(10.0)
    assert totals.valid_per_hour == pytest.approx(360.0)
    assert totals.tokens_per_valid == 500
    assert totals.disk_mb_per_task == pytest.approx(3.0)


def test_every_summary_is_given_per_repository_and_for_the_whole_run(run_dir: Path) -> None:
    report = generation_report(run_dir)
    by_repo = report.by_repo.set_index("repo")
    assert list(by_repo.index) == ["demo", "other", "all"]
    assert by_repo.loc["demo", "yield"] == 0.5 and by_repo.loc["other", "valid"] == 0
    assert math.isnan(by_repo.loc["other", "seconds_per_valid"])  # nothing to divide by
    categories = report.by_category.set_index(["repo", "category"])
    assert categories.loc[("demo", "shared-library"), "valid"] == 1
    assert categories.loc[("all", "file-system"), "candidates"] == 1
    rejections = report.rejections.set_index(["repo", "rejected_by"])["count"]
    assert rejections[("demo", "breaks")] == 1 and rejections[("all", "breaks")] == 2
    stages = report.stages.set_index(["repo", "stage"])
    assert stages.loc[("all", "breaks"), "total_s"] == 10.0 and stages.loc[("other", "builds"), "median_s"] == 1.0
    assert stages.loc[("all", "propose"), "runs"] == 1  # only the agent's candidate took time to propose


def test_a_line_cut_by_a_crash_is_ignored_and_the_next_append_starts_a_new_line(run_dir: Path) -> None:
    path = attempts_path(run_dir, "demo")
    path.write_text(path.read_text() + '{"schema_version": "cligym.attempt/1", "repo": "de')
    assert generation_report(run_dir).totals.candidates == 5
    append_attempt(run_dir, attempt(5, Category.FILE_SYSTEM, None))
    assert [a.key for a in read_attempts(run_dir, "demo")][-1] == "k5"
    assert generation_report(run_dir).totals.candidates == 6


def test_a_run_without_attempts_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CligymError, match="no judged candidates"):
        generation_report(tmp_path)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cligym", "report", *args],
        capture_output=True,
        text=True,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
    )


def test_cli_prints_tables_csv_and_json(run_dir: Path) -> None:
    table = cli(str(run_dir))
    assert table.returncode == 0, table.stderr
    all_row = next(line for line in table.stdout.splitlines() if line.startswith("│ all "))
    assert [cell.strip() for cell in all_row.split("│")[2:5]] == ["5", "2", "40%"]
    assert "breaks 2, near_duplicate 1" in all_row
    assert "seconds per stage" in table.stdout
    csv = cli(str(run_dir), "--format", "csv").stdout.splitlines()
    assert csv[0].startswith("repo,key,category") and len(csv) == 6
    document = json.loads(cli(str(run_dir), "--format", "json").stdout)
    assert document["totals"]["valid"] == 2 and document["totals"]["yield"] == 0.4
    assert [row["repo"] for row in document["by_repo"]] == ["demo", "other", "all"]
    assert document["by_repo"][1]["seconds_per_valid"] is None


def test_a_report_written_to_a_job_log_keeps_its_rows_whole(run_dir: Path) -> None:
    # No terminal and no $COLUMNS (a cluster job, CI, `| tee`): rich alone would wrap cells at 80 columns.
    log = subprocess.run(
        [sys.executable, "-m", "cligym", "report", str(run_dir)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert log.returncode == 0, log.stderr
    all_row = next(line for line in log.stdout.splitlines() if line.startswith("│ all "))
    assert "breaks 2, near_duplicate 1" in all_row
    narrow = subprocess.run(
        [sys.executable, "-m", "cligym", "report", str(run_dir)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "60"},
    )
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 60  # $COLUMNS still rules when set


def test_cli_on_a_run_without_attempts_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    missing = cli(str(tmp_path / "nope"))
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.startswith("error: ") and "no judged candidates" in missing.stderr.splitlines()[0]
    assert cli(str(tmp_path), "--format", "yaml").returncode == 2


@pytest.mark.docker
@pytest.mark.slow
def test_numbers_from_a_validation_in_real_containers(validated_task: ValidatedTask) -> None:
    """The validated task as generate records it, plus a near-duplicate of it that was turned away."""
    gold, task, run_dir = validated_task.gold, validated_task.task, validated_task.run_dir
    common = {
        "repo": gold.name,
        "candidate": task.candidate,
        "validation": task.validation,
        "started_at": validated_task.started_at,
        "finished_at": validated_task.finished_at,
    }
    append_attempt(run_dir, Attempt(key="a", task_id=task.task_id, disk_bytes_added=3_000_000, **common))
    append_attempt(run_dir, Attempt(key="b", rejected_by="near_duplicate", **common))

    report = generation_report(run_dir)
    validation_seconds = sum(task.validation.seconds.values())
    assert set(task.validation.seconds) == {
        "builds",
        "expected_tests",
        "breaks",
        "repo_untouched",
        "deterministic",
        "oracle_repairs",
        "depth_sweep",
    }
    totals = report.totals
    assert (totals.candidates, totals.valid) == (2, 1)
    assert totals.seconds_per_valid == pytest.approx(2 * validation_seconds)
    assert totals.disk_mb_per_task == pytest.approx(3.0)
    assert totals.gold_tests_s == gold.timings_s["baseline"]
    assert math.isnan(totals.gold_build_s) == ("build" not in gold.timings_s)  # reused images were not built
    stages = report.stages.set_index(["repo", "stage"])
    for check, seconds in task.validation.seconds.items():
        assert stages.loc[(gold.name, check), "total_s"] == pytest.approx(2 * seconds)
    categories = report.by_category.set_index(["repo", "category"])
    assert categories.loc[(gold.name, str(task.candidate.category)), "valid"] == 1

    out = io.StringIO()
    print_report(generation_report(run_dir), Console(file=out, width=250))
    assert f"{task.candidate.category} 1" in out.getvalue() and "near_duplicate 1" in out.getvalue()
    assert "diversity of the valid tasks" in out.getvalue()
    diversity = report.diversity.set_index("repo").loc[gold.name]
    assert (diversity["valid"], diversity["causes"], diversity["failing_sets"], diversity["fails_all"]) == (1, 1, 1, 0)
