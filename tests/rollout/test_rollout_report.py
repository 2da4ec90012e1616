"""`cligym rollout-report`: pass@k (unbiased, per task, per repository, per category), distributions of steps
and tokens, termination reasons, from a hand-built trajectories.jsonl whose numbers are worked out below."""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from cligym.cli import rollout_report_command as command
from cligym.cli.rollout_report_command import render_rollout_report, rollout_report_command
from cligym.errors import CligymError
from cligym.rollout.report import EPISODE_COLUMNS, pass_at_k, rollout_report, trajectories_frame
from cligym.rollout.trajectory import (
    TRAJECTORIES_FILE,
    SamplingConfig,
    TerminationReason,
    Totals,
    Trajectory,
    VerifierResult,
    append_trajectory,
    episode_id,
    read_trajectories,
)

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

# (task, repo, category, sample, reward or None without a verdict, termination, steps)
#   t-a: 4 samples, 1 resolved  -> pass@1 1/4, pass@2 1 - C(3,2)/C(4,2) = 1/2, pass@3 3/4, pass@4 1
#   t-b: 4 samples, 0 resolved  -> pass@k 0
#   t-c: 2 samples, 2 resolved  -> pass@1 = pass@2 = 1, no pass@3 or pass@4
#   t-d: 1 sample, reward 0.5 (some tests still fail) -> pass@1 0
EPISODES: list[tuple[str, str, str, int, float | None, TerminationReason, int]] = [
    ("t-a", "alpha", "python-package", 0, 0.0, "step_limit", 10),
    ("t-a", "alpha", "python-package", 1, 0.0, "step_limit", 10),
    ("t-a", "alpha", "python-package", 2, 1.0, "submitted", 4),
    ("t-a", "alpha", "python-package", 3, 0.0, "submitted", 6),
    ("t-b", "alpha", "shared-library", 0, None, "model_error", 3),
    ("t-b", "alpha", "shared-library", 1, 0.0, "step_limit", 10),
    ("t-b", "alpha", "shared-library", 2, 0.0, "step_limit", 10),
    ("t-b", "alpha", "shared-library", 3, 0.0, "repeated_failure", 5),
    ("t-c", "beta", "python-package", 0, 1.0, "submitted", 2),
    ("t-c", "beta", "python-package", 1, 1.0, "submitted", 3),
    ("t-d", "beta", "file-system", 0, 0.5, "time_limit", 7),
]


def trajectory(
    task: str,
    repo: str,
    category: str,
    sample: int,
    reward: float | None,
    reason: TerminationReason,
    steps: int,
) -> Trajectory:
    """Tokens and seconds follow the steps (110 tokens and 2 s a step) so their statistics are the steps'."""
    return Trajectory(
        episode_id=episode_id(task, sample),
        task_id=task,
        sample=sample,
        repo=repo,
        category=category,
        sampling=SamplingConfig(model="test-model"),
        verifier=None if reward is None else VerifierResult(reward=reward),
        totals=Totals(
            steps=steps,
            commands=steps - 1,
            prompt_tokens=100 * steps,
            completion_tokens=10 * steps,
            seconds=2.0 * steps,
        ),
        termination_reason=reason,
        started_at=START,
        finished_at=START + timedelta(seconds=2 * steps),
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    for record in EPISODES:
        append_trajectory(tmp_path, trajectory(*record))
    return tmp_path


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    assert pass_at_k(4, 1, 2) == 0.5  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert pass_at_k(4, 1, 1) == 0.25
    assert pass_at_k(5, 2, 3) == pytest.approx(0.9)  # 1 - C(3,3)/C(5,3) = 1 - 1/10
    assert pass_at_k(4, 3, 2) == 1.0  # fewer failures than k: every draw of 2 holds a success
    assert pass_at_k(4, 0, 4) == 0.0
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_one_row_per_episode(run_dir: Path) -> None:
    frame = trajectories_frame(read_trajectories(run_dir))
    assert list(frame.columns) == EPISODE_COLUMNS and len(frame) == 11
    row = frame.set_index("episode_id").loc["t-a#2"]
    assert (row["model"], row["source"], row["agent"], row["sample"]) == ("test-model", "cligym", "cligym", 2)
    assert (bool(row["resolved"]), row["reward"], row["steps"], row["commands"]) == (True, 1.0, 4, 3)
    assert (row["prompt_tokens"], row["completion_tokens"], row["tokens"], row["seconds"]) == (400, 40, 440, 8.0)
    partial = frame.set_index("episode_id").loc["t-d#0"]
    assert partial["reward"] == 0.5 and not partial["resolved"]  # resolved needs every test to pass
    assert frame.set_index("episode_id").loc["t-b#0", "reward"] == 0.0  # no verdict scores nothing


def test_totals(run_dir: Path) -> None:
    report = rollout_report(run_dir)
    totals = report.totals
    assert report.max_k == 4
    assert (totals.episodes, totals.tasks, totals.resolved) == (11, 4, 3)
    assert totals.pass_at_1 == pytest.approx((0.25 + 0 + 1 + 0) / 4)
    # pass@k averages the tasks with at least k samples: t-d has 1, t-c has 2.
    assert totals.pass_at_k == pytest.approx({1: 0.3125, 2: (0.5 + 0 + 1) / 3, 3: (0.75 + 0) / 2, 4: 0.5})
    assert totals.mean_steps == pytest.approx(70 / 11)
    assert totals.mean_tokens == pytest.approx(700.0)
    assert totals.mean_seconds == pytest.approx(140 / 11)
    assert totals.mean_reward == pytest.approx(3.5 / 11)


def test_pass_at_k_per_task_repository_and_category(run_dir: Path) -> None:
    report = rollout_report(run_dir)
    tasks = report.by_task.set_index("task_id")
    assert list(tasks["samples"]) == [4, 4, 2, 1] and list(tasks["resolved"]) == [1, 0, 2, 0]
    assert list(tasks.loc["t-a", ["pass@1", "pass@2", "pass@3", "pass@4"]]) == [0.25, 0.5, 0.75, 1.0]
    assert tasks.loc["t-c", "pass@2"] == 1.0 and math.isnan(tasks.loc["t-c", "pass@3"])
    assert tasks.loc["t-d", "mean_reward"] == 0.5 and math.isnan(tasks.loc["t-d", "pass@2"])

    repos = report.by_repo.set_index("repo")
    assert list(repos.index) == ["alpha", "beta", "all"]
    assert list(repos.loc["alpha", ["tasks", "episodes", "resolved"]]) == [2, 8, 1]
    assert repos.loc["alpha", "pass@1"] == 0.125 and repos.loc["alpha", "pass@2"] == 0.25
    assert repos.loc["beta", "pass@1"] == 0.5 and repos.loc["beta", "pass@2"] == 1.0  # only t-c has 2 samples
    assert math.isnan(repos.loc["beta", "pass@3"])
    assert repos.loc["beta", "mean_steps"] == 4.0

    categories = report.by_category.set_index("category")
    assert list(categories.index) == ["file-system", "python-package", "shared-library", "all"]
    python = categories.loc["python-package"]
    assert list(python[["tasks", "episodes", "resolved"]]) == [2, 6, 3]
    assert list(python[["pass@1", "pass@2", "pass@3", "pass@4"]]) == [0.625, 0.75, 0.75, 1.0]
    assert categories.loc["shared-library", "pass@4"] == 0.0
    assert categories.loc["file-system", "pass@1"] == 0.0 and math.isnan(categories.loc["file-system", "pass@2"])
    assert categories.loc["all", "pass@1"] == 0.3125


def test_distributions_split_resolved_from_unresolved(run_dir: Path) -> None:
    stats = rollout_report(run_dir).distributions.set_index(["metric", "episodes"])
    # steps: 2 3 3 4 5 6 7 10 10 10 10; resolved 2 3 4; unresolved 3 5 6 7 10 10 10 10
    assert list(stats.loc[("steps", "all"), ["count", "median", "p90", "max"]]) == [11, 6.0, 10.0, 10.0]
    assert stats.loc[("steps", "all"), "mean"] == pytest.approx(70 / 11)
    assert list(stats.loc[("steps", "resolved"), ["count", "mean", "median", "max"]]) == [3, 3.0, 3.0, 4.0]
    assert stats.loc[("steps", "resolved"), "p90"] == pytest.approx(3.8)  # linear between 3 and 4
    assert list(stats.loc[("steps", "unresolved"), ["count", "mean", "median"]]) == [8, 7.625, 8.5]
    assert list(stats.loc[("tokens", "all"), ["mean", "median", "max"]]) == [700.0, 660.0, 1100.0]
    assert stats.loc[("tokens", "resolved"), "mean"] == 330.0
    assert stats.loc[("seconds", "unresolved"), "max"] == 20.0


def test_a_run_with_nothing_resolved_has_empty_resolved_statistics(tmp_path: Path) -> None:
    append_trajectory(tmp_path, trajectory("t-b", "alpha", "", 0, 0.0, "step_limit", 10))
    report = rollout_report(tmp_path)
    resolved = report.distributions.set_index(["metric", "episodes"]).loc[("steps", "resolved")]
    assert resolved["count"] == 0 and math.isnan(resolved["mean"]) and math.isnan(resolved["max"])
    assert report.totals.pass_at_k == {1: 0.0}


def test_termination_reasons_most_frequent_first(run_dir: Path) -> None:
    terminations = rollout_report(run_dir).terminations
    assert list(terminations.itertuples(index=False, name=None)) == [
        ("step_limit", 4, 0),
        ("submitted", 4, 3),
        ("model_error", 1, 0),
        ("repeated_failure", 1, 0),
        ("time_limit", 1, 0),
    ]


def test_a_line_cut_by_a_crash_is_skipped_and_a_rerun_episode_counts_once(run_dir: Path) -> None:
    path = run_dir / TRAJECTORIES_FILE
    path.write_text(path.read_text() + '{"schema_version": "cligym.trajectory/1", "episode_id": "t-e#0", "ta')
    assert rollout_report(run_dir).totals.episodes == 11
    # The next record starts on a fresh line, not glued onto the cut one.
    append_trajectory(run_dir, trajectory("t-d", "beta", "file-system", 0, 1.0, "submitted", 3))
    totals = rollout_report(run_dir).totals
    assert (totals.episodes, totals.resolved) == (11, 4)  # the later record of t-d#0 replaced the earlier
    assert totals.pass_at_1 == pytest.approx((0.25 + 0 + 1 + 1) / 4)


def test_a_run_without_trajectories_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CligymError, match="no trajectories in") as raised:
        rollout_report(tmp_path)
    assert str(tmp_path) in raised.value.message
    assert raised.value.hint is not None and "cligym rollout" in raised.value.hint
    out = io.StringIO()
    render_rollout_report(tmp_path, Console(file=out, width=200))
    assert out.getvalue().strip() == f"no trajectories in {tmp_path} yet"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """The command on an app of its own, as `cligym rollout-report` registers it; a wide console for tables."""
    monkeypatch.setattr(command, "console", Console(width=250))
    app = typer.Typer()
    app.command("rollout-report")(rollout_report_command)

    @app.callback()
    def root() -> None:
        """Keeps rollout-report a subcommand."""

    return app


def test_cli_prints_tables(cli: typer.Typer, run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command, "TASK_ROWS", 2)
    result = CliRunner().invoke(cli, ["rollout-report", str(run_dir)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("11 episodes of 4 tasks, 3 resolved; pass@1 31.2%, pass@4 50.0%")
    all_rows = [line for line in lines if line.startswith("│ all ")]
    assert len(all_rows) == 2  # by repository and by category
    cells = [cell.strip() for cell in all_rows[0].split("│")[2:10]]
    assert cells == ["4", "11", "3", "31.2%", "50.0%", "37.5%", "50.0%", "0.32"]
    assert "hardest 2 of 4 tasks" in result.output
    task_rows = [line.split("│")[1].strip() for line in lines if line.startswith("│ t-")]
    assert task_rows == ["t-b", "t-d"]  # pass@1 0, hardest first
    assert any(line.startswith("│ step_limit ") and line.rstrip("│ ").endswith("0") for line in lines)


def test_cli_prints_csv_and_json(cli: typer.Typer, run_dir: Path) -> None:
    csv = CliRunner().invoke(cli, ["rollout-report", str(run_dir), "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    rows = csv.output.splitlines()
    assert rows[0] == ",".join(EPISODE_COLUMNS) and len(rows) == 12
    assert rows[1].startswith("t-a#0,t-a,alpha,python-package,0,cligym,cligym,test-model,0.0,False,10,")

    result = CliRunner().invoke(cli, ["rollout-report", str(run_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert set(document) == {"totals", "by_task", "by_repo", "by_category", "distributions", "terminations"}
    assert document["totals"]["episodes"] == 11 and document["totals"]["pass@1"] == 0.3125
    assert document["totals"]["pass@2"] == pytest.approx(0.5)
    categories = {row["category"]: row for row in document["by_category"]}
    assert categories["python-package"]["pass@2"] == 0.75
    assert categories["file-system"]["pass@2"] is None  # no task there has 2 samples
    assert [row["repo"] for row in document["by_repo"]] == ["alpha", "beta", "all"]
    assert document["terminations"][0] == {"termination_reason": "step_limit", "count": 4, "resolved": 0}


def test_cli_on_an_empty_run_raises_the_error_and_rejects_unknown_formats(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["rollout-report", str(tmp_path)])
    assert isinstance(result.exception, CligymError) and "no trajectories in" in result.exception.message
    assert CliRunner().invoke(cli, ["rollout-report", str(tmp_path), "--format", "yaml"]).exit_code == 2
