"""`cligym gold SPEC...`: build gold environments in parallel and print what they hold."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cligym.cli.context import ConfigOption, OverrideOption, console, settings_from_options
from cligym.errors import CligymError
from cligym.generation.gold import GoldRecord, build_gold
from cligym.generation.gold.build import GOLD_STAGE, gold_dir
from cligym.parallel import map_in_threads
from cligym.run_state import RunState

EXAMPLES = """
Examples:

  cligym gold configs/repos/inventory.yaml

  cligym gold configs/repos/*.yaml --workers 2 --run-dir runs/gold

  cligym gold configs/repos/attrs.yaml --rebuild
"""


def gold(
    specs: list[Path] = typer.Argument(..., help="Repo spec files (configs/repos/NAME.yaml)."),
    run_dir: Path = typer.Option(Path("runs/default"), "--run-dir", help="Where the run state and records go."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Gold builds at once."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild images and rerun tests even when up to date."),
    config: ConfigOption = None,
    override: OverrideOption = None,
) -> None:
    """Build gold environments: install each project in an image, find its reliably passing tests, probe them."""
    settings = settings_from_options(config, override)
    state = RunState(run_dir)
    records: dict[str, GoldRecord] = {}
    failures: dict[str, CligymError] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        tasks = {spec: bar.add_task(f"{spec.stem}: waiting", total=None) for spec in specs}

        def one(spec: Path) -> GoldRecord:
            def progress(message: str) -> None:
                bar.update(tasks[spec], description=f"{spec.stem}: {message}")

            state.start(GOLD_STAGE, spec.stem)
            return build_gold(spec, settings, run_dir, progress, rebuild=rebuild)

        try:
            for spec, record, error in map_in_threads(one, specs, workers):
                if record is not None:
                    records[spec.stem] = record
                    state.finish(GOLD_STAGE, spec.stem, gold_dir(run_dir, record.name) / "record.json")
                    bar.update(tasks[spec], description=f"{spec.stem}: [green]done[/]")
                    continue
                state.fail(GOLD_STAGE, spec.stem, str(error))
                bar.update(tasks[spec], description=f"{spec.stem}: [red]failed[/]")
                assert error is not None
                if not isinstance(error, CligymError):
                    raise error  # a bug, not bad input: show the traceback
                failures[spec.stem] = error
        except KeyboardInterrupt:
            for unit in state.units(GOLD_STAGE):
                if unit.status == "running":
                    state.fail(GOLD_STAGE, unit.key, "interrupted")
            raise
        finally:
            state.close()
    if records:
        console.print(_summary_table(list(records.values())))
    for name, error in failures.items():
        console.print(f"[red]{name} failed:[/] {error.message}", highlight=False)
        if error.hint:
            console.print(f"  [dim]hint:[/] {error.hint}", highlight=False)
    console.print(f"records in {run_dir / 'gold'}; run state in {state.path}")
    if failures:
        raise typer.Exit(1)


def _summary_table(records: list[GoldRecord]) -> Table:
    table = Table(title="gold environments")
    table.add_column("repo", no_wrap=True)
    for column in ("tests", "gold", "flaky", "build s", "test s", "probe s", "MB"):
        table.add_column(column, justify="right")
    table.add_column("mods/libs/execs/env/files", no_wrap=True)
    for record in sorted(records, key=lambda r: r.name):
        counts = record.probe.counts()
        table.add_row(
            record.name,
            str(len(record.collected_tests)),
            str(len(record.gold_tests)),
            str(len(record.flaky_tests)),
            f"{record.timings_s['build']:.0f}" if "build" in record.timings_s else "cached",
            f"{record.timings_s.get('baseline', 0):.0f}",
            f"{record.timings_s.get('probe', 0):.0f}",
            f"{record.image.size_bytes / 1e6:.0f}",
            "/".join(str(counts[k]) for k in ("modules", "libs", "execs", "env", "files")),
        )
    return table
