"""`cligym generate SPEC...`: gold environments, then validated repair tasks exported for Harbor."""

from __future__ import annotations

from pathlib import Path

import typer

from cligym.cli.context import ConfigOption, OverrideOption, console, settings_from_options
from cligym.cli.per_spec import ProgressCallback, print_failures, run_per_spec
from cligym.cli.report_command import print_report
from cligym.errors import CligymError
from cligym.executor import make_executor
from cligym.generation.attempt_log import read_attempts
from cligym.generation.duplicates import every_test_cap
from cligym.generation.generate import EXPORT_FORMATS, RepoGeneration, generate_for_spec
from cligym.generation.inverters.agent import AgentInverter
from cligym.generation.inverters.base import Inverter
from cligym.generation.inverters.catalog import CatalogInverter
from cligym.generation.operators import Category
from cligym.generation.report import generation_report
from cligym.generation.statements.writer import StatementWriter
from cligym.llm import ChatClient
from cligym.run_state import RunState
from cligym.settings import Settings

EXAMPLES = """
Examples:

  cligym generate configs/repos/inventory.yaml --tasks 3 --out runs/demo

  cligym generate configs/repos/*.yaml --tasks 20 --workers 2 --out runs/catalog

  cligym generate configs/repos/click.yaml --categories shared-library,python-package --tasks 4

  cligym generate configs/repos/attrs.yaml --operators module-deleted,elf-header-zeroed --combine 0

  cligym generate configs/repos/*.yaml --tasks 50 --executor ray --ray-address 10.0.0.1:6379 --candidates-at-once 8
"""


def generate(
    specs: list[Path] = typer.Argument(..., help="Repo spec files (configs/repos/NAME.yaml)."),
    out: Path = typer.Option(Path("runs/default"), "--out", help="Run directory: state, records, Harbor tasks."),
    tasks: int = typer.Option(5, "--tasks", "-n", min=1, help="Valid tasks wanted per repository."),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, help="Repositories worked on at once (default: 1 locally, all on Ray)."
    ),
    candidates_at_once: int = typer.Option(
        1, "--candidates-at-once", min=1, help="Candidates proposed and validated at once per repository."
    ),
    executor_name: str = typer.Option(
        "local", "--executor", help="local (threads, this Docker daemon) or ray (units on a Ray cluster)."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster (HOST:6379; default: the one on this machine); local: start one."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for the order of candidates and their parameters."),
    inverter: str = typer.Option(
        "catalog", "--inverter", help="catalog (fault operators, no model) or agent (a model with a shell; see model:)."
    ),
    operators: str | None = typer.Option(
        None, "--operators", help="Comma-separated fault operators to use (default: all; see 'cligym operators')."
    ),
    categories: str | None = typer.Option(
        None, "--categories", help="Comma-separated categories to use (default: all; see 'cligym operators')."
    ),
    combine: float = typer.Option(
        0.25, "--combine", min=0.0, max=1.0, help="Share of tasks that combine two faults from different categories."
    ),
    max_attempts: int | None = typer.Option(
        None, "--max-attempts", min=1, help="Stop a repository after judging this many candidates in this run."
    ),
    export: str = typer.Option(
        "harbor,terminal-bench", "--export", help="Task formats to write: harbor, terminal-bench (comma-separated)."
    ),
    gold_registry: str | None = typer.Option(
        None,
        "--gold-registry",
        help="Push each gold image to this registry (e.g. ghcr.io/ORG) and export Dockerfiles FROM it.",
    ),
    statements: str = typer.Option(
        "auto",
        "--statements",
        help="Who writes problem statements: template, model, or auto (the model when one is configured).",
    ),
    config: ConfigOption = None,
    override: OverrideOption = None,
) -> None:
    """Break gold environments (fault catalog or a model), validate every candidate, export valid tasks."""
    settings = settings_from_options(config, override)
    client = _model_client(settings, inverter, statements)
    chosen = make_inverter(
        inverter, seed, _names(operators), _names(categories), combine, settings, client, out, tasks_wanted=tasks
    )
    writer = StatementWriter(client if statements != "template" else None)
    formats = _names(export) or []
    unknown = sorted(set(formats) - set(EXPORT_FORMATS))
    if unknown or not formats:
        raise CligymError(
            f"unknown export format: {', '.join(unknown) or '(none)'}", "use --export harbor,terminal-bench"
        )
    executor = make_executor(executor_name, candidates_at_once, ray_address, unit_name="cligym-generation")
    repos_at_once = workers or (1 if executor.name == "local" else len(specs))
    state = RunState(out)

    def one(spec: Path, progress: ProgressCallback) -> RepoGeneration:
        return generate_for_spec(
            spec,
            settings,
            out,
            state,
            tasks,
            chosen,
            progress,
            max_attempts,
            formats,
            gold_registry,
            statement_writer=writer,
            executor=executor,
            candidates_at_once=candidates_at_once,
        )

    try:
        _, failures = run_per_spec(specs, repos_at_once, one, lambda result: f"{len(result.tasks)} tasks")
        leftovers = executor.remove_leftovers()
        if leftovers:
            console.print(f"removed {leftovers} containers of units whose worker was lost (they were re-run)")
    except KeyboardInterrupt:
        executor.interrupted()
        raise
    finally:
        state.close()
        executor.close()
    if read_attempts(out):
        print_report(generation_report(out), console)
    print_failures(failures)
    console.print(
        f"task records in {out / 'tasks'}; task directories in " + ", ".join(str(out / name) for name in formats)
    )
    if failures:
        raise typer.Exit(1)


def _model_client(settings: Settings, inverter: str, statements: str) -> ChatClient | None:
    """The client the agent inverter and model statements share, when either needs a model."""
    if statements not in ("auto", "template", "model"):
        raise CligymError(f"unknown --statements {statements!r}", "use --statements auto, template or model")
    needed = inverter == "agent" or statements == "model"
    if not needed and (statements == "template" or not settings.model.model):
        return None
    client = ChatClient.from_settings(settings.model)
    client.check_available()
    return client


def make_inverter(
    name: str,
    seed: int,
    operators: list[str] | None,
    categories: list[str] | None,
    combine: float,
    settings: Settings | None = None,
    client: ChatClient | None = None,
    run_dir: Path | None = None,
    tasks_wanted: int = 10,
) -> Inverter:
    """The inverter ``--inverter`` names; the agent inverter takes its categories from the command line too."""
    if name == "agent":
        if settings is None or client is None:
            raise CligymError("the agent inverter needs a model", "set model.base_url and model.model")
        if operators:
            raise CligymError("--operators only applies to --inverter catalog", "drop --operators")
        agent_settings = settings.agent_inverter
        if categories:
            agent_settings = agent_settings.model_copy(update={"categories": categories})
        agent_settings = agent_settings.model_copy(update={"seed": seed})
        return AgentInverter(client, agent_settings, settings.sandbox, run_id=run_dir.name if run_dir else None)
    if name != "catalog":
        raise CligymError(f"unknown inverter {name!r}", "use --inverter catalog or --inverter agent")
    known = {str(category) for category in Category}
    unknown = sorted(set(categories or []) - known)
    if unknown:
        raise CligymError(f"unknown categories: {', '.join(unknown)}", f"choose from {', '.join(sorted(known))}")
    generation = (settings or Settings()).generation
    try:
        return CatalogInverter(
            seed=seed,
            operators=operators,
            categories=categories,
            combination_share=combine,
            max_per_failing_set=generation.max_tasks_per_failing_set,
            max_failing_every_test=every_test_cap(generation.max_share_failing_every_test, tasks_wanted),
        )
    except ValueError as exc:
        raise CligymError(str(exc)) from None


def _names(option: str | None) -> list[str] | None:
    return [name.strip() for name in option.split(",") if name.strip()] if option else None
