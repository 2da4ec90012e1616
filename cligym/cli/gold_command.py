"""`cligym gold SPEC...`: build gold environments in parallel and print what they hold."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cligym.cli.context import ConfigOption, OverrideOption, console, settings_from_options
from cligym.errors import CligymError
from cligym.generation.gold import GoldRecord, build_gold
from cligym.generation.gold.build import GOLD_STAGE
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

        def one(spec: Path) -> GoldRecord:
            task = bar.add_task(f"{spec.stem}: starting", total=None)
            state.start(GOLD_STAGE, spec.stem)
            try:
                record = build_gold(
                    spec,
                    settings,
                    run_dir,
                    lambda message: bar.update(task, description=f"{spec.stem}: {message}"),
                    rebuild=rebuild,
                )
            except CligymError as exc:
                state.fail(GOLD_STAGE, spec.stem, str(exc))
                bar.update(task, description=f"{spec.stem}: [red]failed[/]")
                raise
            except BaseException as exc:
                state.fail(GOLD_STAGE, spec.stem, f"{type(exc).__name__}: {exc}")
                raise
            state.finish(GOLD_STAGE, spec.stem, run_dir / "gold" / record.name / "record.json")
            bar.update(task, description=f"{spec.stem}: [green]done[/]")
            return record

        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(one, spec): spec for spec in specs}
            for future in as_completed(futures):
                spec = futures[future]
                try:
                    records[spec.stem] = future.result()
                except CligymError as exc:
                    failures[spec.stem] = exc
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
            f"{record.timings_s.get('build', 0):.0f}",
            f"{record.timings_s.get('baseline', 0):.0f}",
            f"{record.timings_s.get('probe', 0):.0f}",
            f"{record.image.size_bytes / 1e6:.0f}",
            "/".join(str(counts[k]) for k in ("modules", "libs", "execs", "env", "files")),
        )
    return table
