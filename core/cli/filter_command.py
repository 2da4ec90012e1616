"""`cligym filter RUN`: keep the trajectories that really repaired their task, drop the rest with a reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from cligym.cli.context import console
from cligym.filtering.filter_run import FILTER_DIR, KEPT_FILE, FilterConfig, filter_run
from cligym.filtering.report import PLOT_FILE, filter_report, plot_lengths
from cligym.filtering.rules import episode_rules
from cligym.rollout.trajectory import read_trajectories

EXAMPLES = """
Examples:

  cligym filter runs/demo-rollout

  cligym filter runs/big-rollout --max-per-task 2 --max-tokens 60000 --max-steps 40
"""


def filter_command(
    run_dir: Path = typer.Argument(..., help="A rollout run directory (cligym rollout --out)."),
    min_steps: int = typer.Option(1, "--min-steps", min=0, help="Drop trajectories with fewer model turns."),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Drop trajectories with more turns."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=1, help="Drop trajectories above this total."),
    max_per_task: int | None = typer.Option(None, "--max-per-task", min=1, help="Keep at most M per task."),
) -> None:
    """Apply the filters (verifier passed, no test tampering, not ended by a limit, no fabricated success,
    length bounds, duplicates, a cap per task); print kept and dropped per reason; write the kept ids."""
    run = run_dir
    config = FilterConfig(min_steps=min_steps, max_steps=max_steps, max_tokens=max_tokens, max_per_task=max_per_task)
    decisions = filter_run(run, config)
    report = filter_report(read_trajectories(run), decisions)
    descriptions = {rule.name: rule.description for rule in episode_rules(min_steps, max_steps, max_tokens)}
    descriptions |= {
        "kept": "passed every rule",
        "exact_duplicate": "the same conversation as an earlier episode of the task",
        "near_duplicate": "the same command sequence as an earlier episode of the task",
        "max_per_task": f"more than {max_per_task} kept episodes of the task",
    }
    table = Table(title=f"filter: {run}")
    for column in ("decision", "episodes", "share", "meaning"):
        table.add_column(column, justify="right" if column in ("episodes", "share") else "left")
    for row in report.decisions.itertuples():
        style = "green" if row.rule == "kept" else ""
        table.add_row(
            str(row.rule), str(row.episodes), f"{row.share:.0%}", descriptions.get(str(row.rule), ""), style=style
        )
    console.print(table)
    console.print(_frame_table("success by category", report.by_category))
    console.print(_frame_table("success by repository", report.by_repo))
    console.print(_frame_table("lengths", report.lengths))
    plot = plot_lengths(report.episodes, run / FILTER_DIR / PLOT_FILE)
    kept = int(report.episodes["kept"].sum())
    console.print(
        f"kept {kept} of {len(report.episodes)} episodes; ids in {run / FILTER_DIR / KEPT_FILE}, "
        f"every decision in {run / FILTER_DIR / 'decisions.jsonl'}, histograms in {plot}",
        highlight=False,
    )


def _frame_table(title: str, frame: pd.DataFrame) -> Table:
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), justify="left" if frame[column].dtype == object else "right")
    for values in frame.itertuples(index=False):
        table.add_row(*(_cell(value) for value in values))
    return table


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.2f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)
