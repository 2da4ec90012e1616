"""`cligym base build`: make the base image gold environments start FROM."""

from __future__ import annotations

import typer

from cligym.base_images import ensure_base_image
from cligym.cli.context import ConfigOption, OverrideOption, console, settings_from_options
from cligym.docker_connection import docker_client

base_app = typer.Typer(
    help="Manage the base image every gold environment starts FROM.",
    no_args_is_help=True,
    epilog="Examples:\n\n  cligym base build\n\n  cligym base build --rebuild",
)

EXAMPLES = """
Examples:

  cligym base build

  cligym base build -o base_image.name=python:3.12-slim -o base_image.debian_suite=trixie

  cligym base build --rebuild      # rebuild the local equivalent even if the image exists
"""


@base_app.command("build", epilog=EXAMPLES)
def build(
    config: ConfigOption = None,
    override: OverrideOption = None,
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild the local equivalent even when present."),
) -> None:
    """Use the configured base image if present, pull it if possible, else build it locally (debootstrap)."""
    settings = settings_from_options(config, override)
    with console.status(f"preparing base image {settings.base_image.name}...") as status:

        def progress(message: str) -> None:
            console.print(f"  {message}", highlight=False)
            status.update(message)

        base = ensure_base_image(settings.base_image, progress=progress, rebuild=rebuild)
    size_mb = docker_client().images.get(base.reference).attrs.get("Size", 0) / 1e6
    for warning in base.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    with_ca = f", with CA bundle {base.ca_bundle}" if base.ca_bundle else ""
    console.print(
        f"[green]base image ready:[/] {base.reference} ({base.origin}{with_ca}; {size_mb:.0f} MB; {base.image_id[:19]})"
    )
