"""`cligym rollout-report RUN`: how well a model repaired a rollout run's tasks (also printed by `rollout`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from cligym.cli.context import console
from cligym.cli.report_command import ReportFormat
from cligym.rollout.report import ALL, RolloutReport, pass_column, rollout_report
from cligym.rollout.trajectory import read_trajectories

EXAMPLES = """
Examples:

  cligym rollout-report runs/demo-rollout

  cligym rollout-report runs/demo-rollout --format csv > episodes.csv

  cligym rollout-report runs/demo-rollout --format json | jq '.totals["pass@1"]'
"""

# A run can hold thousands of tasks; the table shows the hardest ones, json has them all.
TASK_ROWS = 30


def rollout_report_command(
    run_dir: Path = typer.Argument(..., help="A rollout run directory (cligym rollout --out)."),
    output_format: ReportFormat = typer.Option(
        ReportFormat.table, "--format", help="table, csv (one row per episode) or json (every table)."
    ),
) -> None:
    """Resolved episodes, pass@k per task/repo/category, steps/tokens/seconds distributions, termination reasons."""
    print_rollout_report(rollout_report(run_dir), console, output_format)


def render_rollout_report(run_dir: Path, out: Console) -> None:
    """The report's tables, for the end of `cligym rollout`; one line when no episode was recorded."""
    if not read_trajectories(run_dir):
        out.print(f"[dim]no trajectories in {run_dir} yet[/]", highlight=False)
        return
    print_rollout_report(rollout_report(run_dir), out)


def print_rollout_report(result: RolloutReport, out: Console, output_format: str = ReportFormat.table) -> None:
    if output_format == ReportFormat.csv:
        out.file.write(result.episodes.to_csv(index=False))
    elif output_format == ReportFormat.json:
        out.file.write(json.dumps(rollout_report_document(result), indent=2) + "\n")
    else:
        out.print(headline(result), highlight=False)
        out.print(scope_table(result, "repo"))
        out.print(scope_table(result, "category"))
        out.print(task_table(result))
        out.print(distribution_table(result))
        out.print(termination_table(result))


def rollout_report_document(result: RolloutReport) -> dict[str, object]:
    """Every table as JSON records; NaN (no task with k samples, nothing resolved) becomes null."""
    totals = result.totals
    document_totals: dict[str, object] = {
        "episodes": totals.episodes,
        "tasks": totals.tasks,
        "resolved": totals.resolved,
        **{pass_column(k): _json_number(value) for k, value in totals.pass_at_k.items()},
        "mean_reward": _json_number(totals.mean_reward),
        "mean_steps": _json_number(totals.mean_steps),
        "mean_tokens": _json_number(totals.mean_tokens),
        "mean_seconds": _json_number(totals.mean_seconds),
    }
    return {
        "totals": document_totals,
        "by_task": _records(result.by_task),
        "by_repo": _records(result.by_repo),
        "by_category": _records(result.by_category),
        "distributions": _records(result.distributions),
        "terminations": _records(result.terminations),
    }


def headline(result: RolloutReport) -> str:
    totals = result.totals
    passes = ", ".join(
        f"pass@{k} {_number(value, '{:.1%}')}" for k, value in totals.pass_at_k.items() if k in (1, result.max_k)
    )
    return (
        f"{totals.episodes} episodes of {totals.tasks} tasks, {totals.resolved} resolved; {passes}; "
        f"per episode {totals.mean_steps:.1f} steps, {totals.mean_tokens:,.0f} tokens, {totals.mean_seconds:.0f} s"
    )


def scope_table(result: RolloutReport, column: str) -> Table:
    """Per repository or per category, then the whole run: counts, pass@k and the mean episode."""
    frame = result.by_repo if column == "repo" else result.by_category
    passes = [pass_column(k) for k in range(1, result.max_k + 1)]
    table = Table(title=f"rollout report by {column}")
    table.add_column(column, overflow="fold")
    for header in ("tasks", "episodes", "resolved", *passes, "reward", "steps", "tokens", "s"):
        table.add_column(header, justify="right")
    for index, row in frame.iterrows():
        name = row[column]
        table.add_row(
            f"[bold]{name}[/]" if name == ALL else _label(name),
            _number(row["tasks"], "{:.0f}"),
            _number(row["episodes"], "{:.0f}"),
            _number(row["resolved"], "{:.0f}"),
            *(_number(row[passed], "{:.1%}") for passed in passes),
            _number(row["mean_reward"], "{:.2f}"),
            _number(row["mean_steps"], "{:.1f}"),
            _number(row["mean_tokens"], "{:,.0f}"),
            _number(row["mean_seconds"], "{:.0f}"),
            end_section=index == len(frame) - 2,
        )
    return table


def task_table(result: RolloutReport) -> Table:
    """The tasks by pass@1, hardest first, at most TASK_ROWS of them."""
    tasks = result.by_task.sort_values([pass_column(1), "task_id"], ignore_index=True)
    passes = [pass_column(k) for k in range(1, result.max_k + 1)]
    shown = min(len(tasks), TASK_ROWS)
    caption = None if shown == len(tasks) else f"hardest {shown} of {len(tasks)} tasks; --format json has all"
    table = Table(title="pass@k per task", caption=caption)
    for header in ("task", "repo", "category"):
        table.add_column(header, overflow="fold")
    for header in ("samples", "resolved", *passes):
        table.add_column(header, justify="right")
    for _, row in tasks.head(shown).iterrows():
        table.add_row(
            row["task_id"],
            _label(row["repo"]),
            _label(row["category"]),
            _number(row["samples"], "{:.0f}"),
            _number(row["resolved"], "{:.0f}"),
            *(_number(row[passed], "{:.1%}") for passed in passes),
        )
    return table


def distribution_table(result: RolloutReport) -> Table:
    table = Table(title="per episode: all / resolved / unresolved")
    table.add_column("metric")
    table.add_column("episodes")
    for header in ("count", "mean", "median", "p90", "max"):
        table.add_column(header, justify="right")
    frame = result.distributions
    for index, row in frame.iterrows():
        fmt = "{:,.1f}" if row["metric"] == "steps" else "{:,.0f}"
        table.add_row(
            row["metric"],
            row["episodes"],
            _number(row["count"], "{:.0f}"),
            *(_number(row[name], fmt) for name in ("mean", "median", "p90", "max")),
            end_section=index < len(frame) - 1 and frame["metric"].iloc[index + 1] != row["metric"],
        )
    return table


def termination_table(result: RolloutReport) -> Table:
    table = Table(title="why episodes stopped")
    table.add_column("reason")
    table.add_column("episodes", justify="right")
    table.add_column("resolved", justify="right")
    for _, row in result.terminations.iterrows():
        table.add_row(row["termination_reason"], str(row["count"]), str(row["resolved"]))
    return table


def _label(value: object) -> str:
    # Records imported without a repository or category keep "" in the frames; a table cell says so.
    return str(value) if value else "-"


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _number(value: object, fmt: str) -> str:
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "-" if missing else fmt.format(value)


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return json.loads(frame.to_json(orient="records"))  # type: ignore[no-any-return]
