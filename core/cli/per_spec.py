"""Running one unit of work per repo spec on a few threads, with a progress line per spec."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cligym.cli.context import console
from cligym.errors import CligymError
from cligym.parallel import map_in_threads

Result = TypeVar("Result")
ProgressCallback = Callable[[str], None]


def run_per_spec(
    specs: list[Path],
    workers: int,
    work: Callable[[Path, ProgressCallback], Result],
    done_label: Callable[[Result], str],
) -> tuple[dict[Path, Result], dict[Path, CligymError]]:
    """Run ``work(spec, progress)`` for every spec; user errors are collected per spec, bugs propagate."""
    results: dict[Path, Result] = {}
    failures: dict[Path, CligymError] = {}
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        rows = {spec: bar.add_task(f"{spec.stem}: waiting", total=None) for spec in specs}

        def one(spec: Path) -> Result:
            return work(spec, lambda message: bar.update(rows[spec], description=f"{spec.stem}: {message}"))

        for spec, result, error in map_in_threads(one, specs, workers):
            if error is None:
                assert result is not None
                results[spec] = result
                bar.update(rows[spec], description=f"{spec.stem}: [green]{done_label(result)}[/]")
                continue
            bar.update(rows[spec], description=f"{spec.stem}: [red]failed[/]")
            if not isinstance(error, CligymError):
                raise error  # a bug, not bad input: show the traceback
            failures[spec] = error
    return results, failures


def print_failures(failures: dict[Path, CligymError]) -> None:
    for spec, error in failures.items():
        console.print(f"[red]{spec.stem} failed:[/] {error.message}", highlight=False)
        if error.hint:
            console.print(f"  [dim]hint:[/] {error.hint}", highlight=False)
