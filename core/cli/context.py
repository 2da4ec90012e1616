"""Options every subcommand shares (settings file, overrides) and the console."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cligym.settings import Settings, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML settings file (keys of configs/cligym.yaml); default $CLIGYM_CONFIG."),
]
OverrideOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-o", help="Override one setting, e.g. -o sandbox.memory=2g (repeatable)."),
]

# Wide enough for every report's table: a job log (a cluster job, CI, `| tee`) is read in a pager or browser.
LOG_WIDTH = 200


def make_console(stderr: bool = False) -> Console:
    """A terminal's console as rich sizes it; for a file or pipe, ``$COLUMNS`` or ``LOG_WIDTH`` columns, where
    rich would assume 80 and wrap every table cell to a word per line."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else LOG_WIDTH
    return Console(stderr=stderr, width=width)


console = make_console()


def settings_from_options(config: Path | None, overrides: list[str] | None) -> Settings:
    return load_settings(config, overrides or [])
