"""`cligym rollout-import JOBS... --out RUN`: Harbor job directories become trajectory records, so episodes
rolled out with Harbor's agents are filtered and turned into datasets like ours."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import typer
from rich.table import Table

from cligym.cli.context import console
from cligym.rollout.harbor import ImportSummary, import_harbor_jobs
from cligym.rollout.trajectory import TRAJECTORIES_FILE, Trajectory

EXAMPLES = """
Examples:

  harbor run -a terminus-2 -m openai/Qwen/Qwen3-8B --ak api_base=http://127.0.0.1:8000/v1 -p runs/demo/harbor -o jobs
  cligym rollout-import jobs --out runs/demo-rollout

  cligym rollout-import jobs/2026-01-05__10-00-00 jobs/2026-01-06__09-30-00 --out runs/harbor-import

  cligym rollout-import jobs/2026-01-05__10-00-00/inventory-sqlite-soname__Ab3dE9f --out runs/one
"""


def rollout_import(
    job_dirs: list[Path] = typer.Argument(
        ..., help="Harbor job directories (jobs/<timestamp>), trial directories in them, or a jobs directory."
    ),
    out: Path = typer.Option(..., "--out", help="Run directory whose trajectories.jsonl receives the records."),
) -> None:
    """Import finished Harbor trials (ATIF trajectory, verifier reward, per-test statuses) as trajectory
    records; trials already imported into the run are skipped, so importing again is safe."""
    summary = import_harbor_jobs(job_dirs, out)
    if summary.imported:
        console.print(_imported_table(summary.imported))
    for skipped in summary.skipped_unreadable:
        console.print(f"[yellow]skipped {skipped.path}:[/] {skipped.reason}", highlight=False)
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(_totals_line(summary, out), highlight=False)
    if summary.skipped_unreadable and not summary.imported and not summary.skipped_existing:
        raise typer.Exit(1)


def _imported_table(imported: list[Trajectory]) -> Table:
    groups: defaultdict[tuple[str, str], list[Trajectory]] = defaultdict(list)
    for trajectory in imported:
        groups[(trajectory.agent, trajectory.sampling.model)].append(trajectory)
    table = Table(title="imported Harbor trials")
    for column in ("agent", "model", "trials", "resolved", "mean reward", "turns", "tokens", "with ATIF"):
        table.add_column(column, justify="left" if column in ("agent", "model") else "right")
    for (agent, model), group in sorted(groups.items()):
        table.add_row(
            agent,
            model or "-",
            str(len(group)),
            str(sum(t.resolved for t in group)),
            f"{sum(t.reward for t in group) / len(group):.2f}",
            str(sum(t.totals.steps for t in group)),
            f"{sum(t.totals.tokens for t in group):,}",
            str(sum(bool(t.messages) for t in group)),
        )
    return table


def _totals_line(summary: ImportSummary, out: Path) -> str:
    return (
        f"{len(summary.imported)} trials imported, {len(summary.skipped_existing)} already recorded, "
        f"{len(summary.skipped_unreadable)} skipped; trajectories in {out / TRAJECTORIES_FILE}"
    )
