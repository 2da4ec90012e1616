"""Options every subcommand shares (settings file, overrides) and the console."""

from __future__ import annotations

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

console = Console()


def settings_from_options(config: Path | None, overrides: list[str] | None) -> Settings:
    return load_settings(config, overrides or [])
