"""`cligym doctor`: is this machine ready?"""

from __future__ import annotations

import typer
from rich.table import Table

from cligym.cli.context import ConfigOption, OverrideOption, console, settings_from_options
from cligym.doctor import run_checks

STATUS_STYLE = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]fail[/]"}

EXAMPLES = """
Examples:

  cligym doctor

  cligym doctor -o base_image.name=python:3.12-slim
"""


def doctor(config: ConfigOption = None, override: OverrideOption = None) -> None:
    """Check Docker, compose v2, the base image, free disk and TLS from containers; print the fix for each failure."""
    settings = settings_from_options(config, override)
    with console.status("checking..."):
        checks = run_checks(settings)
    table = Table(title="cligym doctor", show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    table.add_column("fix", overflow="fold")
    for check in checks:
        table.add_row(check.name, STATUS_STYLE[check.status], check.detail, check.fix)
    console.print(table)
    if any(check.status == "fail" for check in checks):
        raise typer.Exit(1)
