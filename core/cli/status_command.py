"""`cligym status RUN_DIR`: what a run has done, per stage."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cligym.cli.context import console
from cligym.errors import CligymError
from cligym.run_state import STATE_FILE, RunState

EXAMPLES = """
Examples:

  cligym status runs/default

  cligym status runs/default --stage gold
"""


def status(
    run_dir: Path = typer.Argument(..., help="A run directory (holds state.sqlite)."),
    stage: str | None = typer.Option(None, "--stage", help="Only this stage's units."),
) -> None:
    """Show every unit of work of a run (gold builds, ...) with its status and detail."""
    if not (run_dir / STATE_FILE).is_file():
        raise CligymError(f"{run_dir} holds no {STATE_FILE}", "pass the --run-dir you gave the stage command")
    state = RunState(run_dir)
    units = state.units(stage)
    state.close()
    table = Table(title=f"run {run_dir}")
    for column in ("stage", "unit", "status", "attempts", "detail"):
        table.add_column(column, overflow="fold")
    style = {"done": "green", "failed": "red", "running": "yellow"}
    for unit in units:
        detail = unit.result_path or unit.detail
        table.add_row(unit.stage, unit.key, f"[{style[unit.status]}]{unit.status}[/]", str(unit.attempts), detail)
    console.print(table)
    counts = {s: sum(u.status == s for u in units) for s in ("done", "failed", "running")}
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()))
