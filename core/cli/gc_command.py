"""`cligym gc`: remove what cligym left behind in Docker."""

from __future__ import annotations

import typer

from cligym.cli.context import console
from cligym.garbage_collection import collect_garbage

EXAMPLES = """
Examples:

  cligym gc                      # every container, volume and image cligym labelled, except base images

  cligym gc --run 20261125-demo  # only what one run created

  cligym gc --include-base       # also the base images (they take minutes to rebuild)
"""


def gc(
    run: str | None = typer.Option(None, "--run", help="Only remove objects labelled with this run id."),
    include_base: bool = typer.Option(False, "--include-base", help="Also remove base images."),
) -> None:
    """Remove the containers, volumes and images cligym labelled."""
    removed = collect_garbage(run_id=run, include_base=include_base)
    console.print(
        f"removed {len(removed.containers)} containers, {len(removed.volumes)} volumes, {len(removed.images)} images"
    )
    for failure in removed.failures:
        console.print(f"[red]could not remove[/] {failure}")
    if removed.failures:
        raise typer.Exit(1)
