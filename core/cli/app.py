"""The `cligym` command: global options, subcommands, and one place where user errors become one line."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import typer
from rich.console import Console

from cligym import __version__
from cligym.cli.base_command import base_app
from cligym.cli.context import make_console
from cligym.cli.dataset_command import EXAMPLES as DATASET_EXAMPLES
from cligym.cli.dataset_command import dataset
from cligym.cli.doctor_command import EXAMPLES as DOCTOR_EXAMPLES
from cligym.cli.doctor_command import doctor
from cligym.cli.filter_command import EXAMPLES as FILTER_EXAMPLES
from cligym.cli.filter_command import filter_command
from cligym.cli.gc_command import EXAMPLES as GC_EXAMPLES
from cligym.cli.gc_command import gc
from cligym.cli.generate_command import EXAMPLES as GENERATE_EXAMPLES
from cligym.cli.generate_command import generate
from cligym.cli.gold_command import EXAMPLES as GOLD_EXAMPLES
from cligym.cli.gold_command import gold
from cligym.cli.operators_command import EXAMPLES as OPERATORS_EXAMPLES
from cligym.cli.operators_command import operators
from cligym.cli.report_command import EXAMPLES as REPORT_EXAMPLES
from cligym.cli.report_command import report
from cligym.cli.rollout_command import EXAMPLES as ROLLOUT_EXAMPLES
from cligym.cli.rollout_command import rollout
from cligym.cli.rollout_import_command import EXAMPLES as ROLLOUT_IMPORT_EXAMPLES
from cligym.cli.rollout_import_command import rollout_import
from cligym.cli.rollout_report_command import EXAMPLES as ROLLOUT_REPORT_EXAMPLES
from cligym.cli.rollout_report_command import rollout_report_command
from cligym.cli.status_command import EXAMPLES as STATUS_EXAMPLES
from cligym.cli.status_command import status
from cligym.cli.train_command import EXAMPLES as TRAIN_EXAMPLES
from cligym.cli.train_command import train_command
from cligym.errors import CligymError
from cligym.sandbox import remove_live_sandboxes

app = typer.Typer(
    name="cligym",
    help="Break healthy environments on purpose, pack them as repair tasks, and learn from agents that fix them.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    epilog="Examples:\n\n  cligym doctor\n\n  cligym gold configs/repos/inventory.yaml\n\n  cligym status runs/default",
)
app.command("doctor", epilog=DOCTOR_EXAMPLES)(doctor)
app.command("gc", epilog=GC_EXAMPLES)(gc)
app.command("gold", epilog=GOLD_EXAMPLES)(gold)
app.command("generate", epilog=GENERATE_EXAMPLES)(generate)
app.command("status", epilog=STATUS_EXAMPLES)(status)
app.command("report", epilog=REPORT_EXAMPLES)(report)
app.command("operators", epilog=OPERATORS_EXAMPLES)(operators)
app.command("rollout", epilog=ROLLOUT_EXAMPLES)(rollout)
app.command("rollout-report", epilog=ROLLOUT_REPORT_EXAMPLES)(rollout_report_command)
app.command("rollout-import", epilog=ROLLOUT_IMPORT_EXAMPLES)(rollout_import)
app.command("filter", epilog=FILTER_EXAMPLES)(filter_command)
app.command("dataset", epilog=DATASET_EXAMPLES)(dataset)
app.command("train", epilog=TRAIN_EXAMPLES)(train_command)
app.add_typer(base_app, name="base")


def _version(value: bool) -> None:
    if value:
        print(f"cligym {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Global options; each subcommand takes --config and -o/--set for settings."""


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    # Unwinds like Ctrl-C, so every sandbox context removes its container.
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: user errors print one line plus a hint and exit 2; Ctrl-C and SIGTERM exit 130."""
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    sys.exit(_run_app())


def _interrupted(err: Console) -> int:
    try:
        removed = remove_live_sandboxes()
    except CligymError:  # no Docker daemon here: a Ray coordinator, whose units were cleaned on their nodes
        removed = 0
    err.print(f"[yellow]interrupted[/]; removed {removed} running containers of this command")
    return 130


def _run_app() -> int:
    err = make_console(stderr=True)
    try:
        # Outside standalone mode click returns the code of a typer.Exit instead of exiting.
        exit_code = app(standalone_mode=False)
    except CligymError as exc:
        if "--debug" in sys.argv:
            err.print_exception()
        err.print(f"[red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        if exc.hint:
            err.print(f"[dim]hint:[/] {exc.hint}", highlight=False, soft_wrap=True)
        return 2
    except (KeyboardInterrupt, typer.Abort):
        return _interrupted(err)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            err.print(f"[red]error:[/] {exc.format_message()}")
        return int(exc.exit_code)
    if exit_code == 130:  # typer turns Ctrl-C inside a command into a returned 130
        return _interrupted(err)
    return exit_code if isinstance(exit_code, int) else 0


if __name__ == "__main__":
    main()
