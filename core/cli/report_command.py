"""`cligym report RUN`: what a generation run produced and what it cost (also printed by `generate`)."""

from __future__ import annotations

import dataclasses
import json
import math
from enum import StrEnum
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from cligym.cli.context import console
from cligym.generation.report import ALL, STAGES, GenerationReport, generation_report

EXAMPLES = """
Examples:

  cligym report runs/demo

  cligym report runs/catalog --format csv > attempts.csv

  cligym report runs/catalog --format json | jq .totals
"""


class ReportFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def report(
    run_dir: Path = typer.Argument(..., help="A generation run directory (cligym generate --out)."),
    output_format: ReportFormat = typer.Option(
        ReportFormat.table, "--format", help="table, csv (one row per judged candidate) or json (every table)."
    ),
) -> None:
    """Candidates, valid tasks, yield, categories, rejections, seconds/tokens/disk per valid task, stage times."""
    print_report(generation_report(run_dir), console, output_format)


def print_report(result: GenerationReport, out: Console, output_format: str = ReportFormat.table) -> None:
    if output_format == ReportFormat.csv:
        out.file.write(result.attempts.to_csv(index=False))
    elif output_format == ReportFormat.json:
        out.file.write(json.dumps(report_document(result), indent=2) + "\n")
    else:
        out.print(repo_table(result))
        out.print(diversity_table(result))
        out.print(stage_table(result))


def report_document(result: GenerationReport) -> dict[str, object]:
    """Every table as JSON records; NaN (nothing to divide by) becomes null."""
    totals = {
        ("yield" if name == "yield_" else name): None if isinstance(value, float) and math.isnan(value) else value
        for name, value in dataclasses.asdict(result.totals).items()
    }
    return {
        "totals": totals,
        "by_repo": _records(result.by_repo),
        "by_category": _records(result.by_category),
        "rejections": _records(result.rejections),
        "stages": _records(result.stages),
        "diversity": _records(result.diversity),
    }


def repo_table(result: GenerationReport) -> Table:
    table = Table(title="generation report")
    columns = {
        "repo": "repo",
        "candidates": "candidates",
        "valid": "valid",
        "yield": "yield",
        "categories": "valid by category",
        "rejections": "rejected by",
        "seconds_per_valid": "s / valid",
        "tokens_per_valid": "tokens / valid",
        "disk_mb_per_task": "MB / task",
        "valid_per_hour": "valid / h",
        "gold_build_s": "gold build s",
        "gold_tests_s": "gold tests s",
    }
    for key, header in columns.items():
        text = key in ("repo", "categories", "rejections")
        table.add_column(header, justify="left" if text else "right", overflow="fold")
    categories = result.by_category[result.by_category["valid"] > 0]
    for _, row in result.by_repo.iterrows():
        repo = row["repo"]
        mine = categories[categories["repo"] == repo]
        rejected = result.rejections[result.rejections["repo"] == repo]
        table.add_row(
            f"[bold]{repo}[/]" if repo == ALL else repo,
            _number(row["candidates"], "{:.0f}"),
            _number(row["valid"], "{:.0f}"),
            _number(row["yield"], "{:.0%}"),
            ", ".join(f"{name} {count}" for name, count in zip(mine["category"], mine["valid"], strict=True)),
            ", ".join(
                f"{name} {count}" for name, count in zip(rejected["rejected_by"], rejected["count"], strict=True)
            ),
            _number(row["seconds_per_valid"], "{:.0f}"),
            _number(row["tokens_per_valid"], "{:.0f}"),
            _number(row["disk_mb_per_task"], "{:.3g}"),
            _number(row["valid_per_hour"], "{:.0f}"),
            # A gold record without build seconds reused an image built before this run.
            _number(row["gold_build_s"], "{:.0f}", missing="-" if _missing(row["gold_tests_s"]) else "cached"),
            _number(row["gold_tests_s"], "{:.0f}"),
            end_section=repo != ALL and result.by_repo["repo"].iloc[-2] == repo,
        )
    return table


def diversity_table(result: GenerationReport) -> Table:
    """Distinct categories, causes and failing sets of the valid tasks; tasks failing every test; seconds
    a candidate cost by outcome."""
    table = Table(title="diversity of the valid tasks")
    columns = {
        "repo": ("repo", "{}"),
        "valid": ("valid", "{:.0f}"),
        "categories": ("categories", "{:.0f}"),
        "causes": ("causes", "{:.0f}"),
        "failing_sets": ("failing sets", "{:.0f}"),
        "max_per_failing_set": ("most per set", "{:.0f}"),
        "fails_all": ("fail all tests", "{:.0f}"),
        "fails_all_share": ("share", "{:.0%}"),
        "median_f2p_share": ("median F2P share", "{:.0%}"),
        "shallow": ("shallow", "{:.0f}"),
        "broke_nothing_s": ("s / broke nothing", "{:.1f}"),
        "rejected_later_s": ("s / rejected later", "{:.1f}"),
        "valid_s": ("s / valid", "{:.1f}"),
    }
    for key, (header, _) in columns.items():
        table.add_column(header, justify="left" if key == "repo" else "right", overflow="fold")
    for _, row in result.diversity.iterrows():
        table.add_row(*(_number(row[key], fmt) for key, (_, fmt) in columns.items()))
    return table


def stage_table(result: GenerationReport) -> Table:
    """Seconds per stage: median / total for each repository and for the whole run."""
    table = Table(title="seconds per stage (median / total)")
    table.add_column("stage")
    scopes = list(result.by_repo["repo"])
    if len(scopes) == 2:  # one repository: its numbers are the run's
        scopes = [ALL]
    for scope in scopes:
        table.add_column(scope, justify="right")
    stages = result.stages.set_index(["repo", "stage"])
    for stage in STAGES:
        cells = []
        for scope in scopes:
            if (scope, stage) in stages.index:
                row = stages.loc[(scope, stage)]
                cells.append(f"{row['median_s']:.1f} / {row['total_s']:.0f}")
            else:
                cells.append("-")
        if any(cell != "-" for cell in cells):
            table.add_row(stage, *cells)
    return table


def _counts(names: pd.Series, counts: pd.Series) -> str:
    return ", ".join(f"{name} {count}" for name, count in zip(names, counts, strict=True))


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value: object, fmt: str, missing: str = "-") -> str:
    return missing if _missing(value) else fmt.format(value)


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return json.loads(frame.to_json(orient="records"))  # type: ignore[no-any-return]
