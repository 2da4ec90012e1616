"""`cligym gold SPEC...`: build gold environments in parallel and print what they hold."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cligym.cli.context import ConfigOption, OverrideOption, console, settings_from_options
from cligym.cli.per_spec import ProgressCallback, print_failures, run_per_spec
from cligym.errors import ConfigError
from cligym.executor import ExecutorName, make_executor
from cligym.generation.gold import GoldRecord
from cligym.generation.gold.build import GOLD_STAGE, gold_dir
from cligym.generation.gold_units import build_gold_with
from cligym.generation.instances import InstanceDefaults, instance_specs, read_instance_rows, write_instance_specs
from cligym.run_state import RunState
from cligym.sandbox import shutting_down

EXAMPLES = """
Examples:

  cligym gold configs/repos/inventory.yaml

  cligym gold configs/repos/*.yaml --workers 2 --run-dir runs/gold

  cligym gold configs/repos/attrs.yaml --rebuild

  cligym gold configs/repos/*.yaml --executor ray --ray-address 10.0.0.1:6379

  cligym gold --from-instances swe-bench-lite.jsonl --run-dir runs/swe   # one gold per prebuilt image
"""


def gold(
    specs: list[Path] = typer.Argument(None, help="Repo spec files (configs/repos/NAME.yaml)."),
    instances: Path | None = typer.Option(
        None,
        "--from-instances",
        help="SWE-bench-style instances (JSON lines, JSON, parquet or a saved dataset): one gold environment per "
        "image, as it is; the specs are written to RUN_DIR/instances/.",
    ),
    run_dir: Path = typer.Option(Path("runs/default"), "--run-dir", help="Where the run state and records go."),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, help="Gold builds at once (default: 1 locally, all on Ray)."
    ),
    executor_name: ExecutorName = typer.Option(
        ExecutorName.LOCAL, "--executor", help="local (threads, this Docker daemon) or ray (units on a Ray cluster)."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster (HOST:6379; default: the one on this machine); local: start one."
    ),
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild images and rerun tests even when up to date."),
    config: ConfigOption = None,
    override: OverrideOption = None,
) -> None:
    """Build gold environments: install each project in an image, find its reliably passing tests, probe them."""
    settings = settings_from_options(config, override)
    specs = list(specs or [])
    if instances is not None:
        rows = read_instance_rows(instances)
        written = write_instance_specs(instance_specs(rows, InstanceDefaults(), instances), run_dir / "instances")
        console.print(f"{len(rows)} instances, {len(written)} images: specs in {run_dir / 'instances'}")
        specs += written
    if not specs:
        raise ConfigError("no repo spec given", "pass spec files (configs/repos/NAME.yaml) or --from-instances FILE")
    executor = make_executor(executor_name, 1, ray_address, unit_name="cligym-gold")
    builds_at_once = workers or (1 if executor.name == "local" else len(specs))
    state = RunState(run_dir)

    def one(spec: Path, progress: ProgressCallback) -> GoldRecord:
        state.start(GOLD_STAGE, spec.stem)
        try:
            record = build_gold_with(executor, spec, settings, run_dir, progress, rebuild=rebuild).record
        except Exception as exc:
            # Its containers removed under it by Ctrl-C, a build fails of the interruption, not of itself.
            state.fail(GOLD_STAGE, spec.stem, "interrupted" if shutting_down() else str(exc))
            raise
        state.finish(GOLD_STAGE, spec.stem, gold_dir(run_dir, record.name) / "record.json")
        return record

    try:
        records, failures = run_per_spec(specs, builds_at_once, one, lambda _: "done")
    except KeyboardInterrupt:
        executor.interrupted()
        for unit in state.units(GOLD_STAGE):
            if unit.status == "running":
                state.fail(GOLD_STAGE, unit.key, "interrupted")
        raise
    finally:
        state.close()
        executor.close()
    if records:
        console.print(_summary_table(list(records.values())))
    print_failures(failures)
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
            f"{record.timings_s['build']:.0f}" if "build" in record.timings_s else "cached",
            f"{record.timings_s.get('baseline', 0):.0f}",
            f"{record.timings_s.get('probe', 0):.0f}",
            f"{record.image.size_bytes / 1e6:.0f}",
            "/".join(str(counts[k]) for k in ("modules", "libs", "execs", "env", "files")),
        )
    return table
