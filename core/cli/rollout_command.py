"""`cligym rollout TASKS... --out RUN`: a model repairs exported tasks in parallel containers, every step and
verdict recorded in RUN/trajectories.jsonl."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from cligym.cli.context import ConfigOption, OverrideOption, console, settings_from_options
from cligym.cli.rollout_report_command import render_rollout_report
from cligym.executor import Executor, ExecutorName, Lane, make_executor
from cligym.llm import ChatClient
from cligym.rollout.runner import EpisodeSpec, RolloutEvents, RolloutOutcome, pending_episodes, roll_out
from cligym.rollout.serving import ServeWith, ServingRequest, start_serving
from cligym.rollout.task_dir import RolloutTask, find_tasks
from cligym.rollout.trajectory import Trajectory
from cligym.settings import ActionFormat, Settings

EXAMPLES = """
Examples:

  cligym rollout runs/demo/harbor --out runs/demo-rollout --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen3-8B

  cligym rollout runs/demo/harbor --serve vllm --model /models/Qwen3-32B --tensor-parallel-size 4 \\
      --samples 4 --concurrency 8

  cligym rollout runs/demo/harbor/inventory-0a1b2c --action-format text --samples 2

  cligym rollout runs/demo/harbor --executor ray --serve vllm --model /models/Qwen3-8B --concurrency 16

  cligym rollout runs/demo/harbor --executor ray --model Qwen/Qwen3-8B \\
      --node-url 10.0.0.5=http://10.0.0.5:8000/v1 --node-url 10.0.0.6=http://10.0.0.6:8000/v1
"""


def rollout(
    tasks: list[Path] = typer.Argument(..., help="Harbor task directories, or directories of them (RUN/harbor)."),
    out: Path = typer.Option(Path("runs/rollout"), "--out", help="Run directory: trajectories.jsonl and state."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (model.base_url)."),
    model: str | None = typer.Option(None, "--model", help="Model name to request, or to serve with --serve."),
    concurrency: int = typer.Option(
        2,
        "--concurrency",
        min=1,
        help="Episodes at once, one container each (with --executor ray: per model server; without servers the "
        "nodes' docker resource decides).",
    ),
    samples: int = typer.Option(1, "--samples", "-k", min=1, help="Episodes per task (for pass@k)."),
    seed: int | None = typer.Option(None, "--seed", help="Sampling seed of sample 0; sample i gets seed + i."),
    action_format: ActionFormat | None = typer.Option(
        None, "--action-format", help="tool (bash/submit tool calls) or text (one fenced command per reply)."
    ),
    max_steps: int | None = typer.Option(None, "--max-steps", min=1, help="Model turns per episode."),
    serve: ServeWith | None = typer.Option(None, "--serve", help="Start a model server for the run: vllm."),
    tensor_parallel_size: int = typer.Option(1, "--tensor-parallel-size", min=1, help="GPUs for --serve vllm."),
    vllm_args: list[str] = typer.Option([], "--vllm-arg", help="Extra `vllm serve` argument (repeatable)."),
    tool_call_parser: str | None = typer.Option(
        None,
        "--tool-call-parser",
        help="vLLM's tool-call parser for --serve vllm (default: the model family's, e.g. hermes for Qwen3).",
    ),
    executor_name: ExecutorName = typer.Option(
        ExecutorName.LOCAL, "--executor", help="local (threads, this Docker daemon) or ray (units on a Ray cluster)."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster (HOST:6379; default: the one on this machine); local: start one."
    ),
    node_urls: list[str] = typer.Option(
        [], "--node-url", help="With --executor ray: NODE=URL of a model server on that node (repeatable)."
    ),
    config: ConfigOption = None,
    override: OverrideOption = None,
) -> None:
    """Let a model repair each task (its own container, the task's verifier at the end), record every step."""
    settings = _settings(settings_from_options(config, override), base_url, model, action_format, max_steps)
    found = find_tasks(tasks)
    request = ServingRequest(serve, model, tensor_parallel_size, tuple(vllm_args), tuple(node_urls), tool_call_parser)
    request.check(executor_name)
    executor = make_executor(executor_name, concurrency, ray_address, unit_name="cligym-episode")
    with ExitStack() as stack:
        stack.callback(executor.close)
        settings, servers = start_serving(stack, request, settings, executor, concurrency, out, console.print)
        client = ChatClient.from_settings(settings.model)
        pending, recorded = pending_episodes(found, samples, out)
        where = ", ".join(lane.value for lane in servers) if servers else client.base_url
        console.print(
            f"{len(found)} tasks x {samples} samples: {len(pending)} episodes to run, {recorded} already recorded; "
            f"model {client.model} at {where}, {settings.rollout.action_format} actions, {executor.name} executor",
            highlight=False,
        )
        try:
            outcome = _run_with_progress(
                found, out, client, settings, samples, concurrency, seed, len(pending), executor, servers
            )
        except KeyboardInterrupt:
            executor.interrupted()
            raise
    _print_summary(out, outcome)
    render_rollout_report(out, console)
    if outcome.failed:
        raise typer.Exit(1)


def _settings(
    settings: Settings,
    base_url: str | None,
    model: str | None,
    action_format: ActionFormat | None,
    max_steps: int | None,
) -> Settings:
    model_update = {key: value for key, value in (("base_url", base_url), ("model", model)) if value}
    rollout_update: dict[str, object] = {}
    if action_format is not None:
        rollout_update["action_format"] = str(action_format)
    if max_steps is not None:
        rollout_update["max_steps"] = max_steps
    return settings.model_copy(
        update={
            "model": settings.model.model_copy(update=model_update),
            "rollout": settings.rollout.model_copy(update=rollout_update),
        }
    )


class _ProgressEvents(RolloutEvents):
    """Done/running/failed, the pass rate so far and tokens per second on one progress line."""

    def __init__(self, progress: Progress, row: TaskID) -> None:
        self.progress, self.row = progress, row
        self.running = self.done = self.failed_count = self.resolved = self.tokens = 0
        self.started_at = time.monotonic()
        self._lock = threading.Lock()

    def started(self, spec: EpisodeSpec) -> None:
        with self._lock:
            self.running += 1
        self._refresh()

    def finished(self, spec: EpisodeSpec, trajectory: Trajectory) -> None:
        with self._lock:
            self.running -= 1
            self.done += 1
            self.resolved += int(trajectory.resolved)
            self.tokens += trajectory.totals.tokens
        self._refresh(advance=1)

    def failed(self, spec: EpisodeSpec, error: str) -> None:
        with self._lock:
            self.running = max(0, self.running - 1)
            self.failed_count += 1
        console.print(f"[red]{spec.episode_id} failed:[/] {error}", highlight=False)
        self._refresh(advance=1)

    def note(self, message: str) -> None:
        self.progress.update(self.row, description=message)

    def warning(self, message: str) -> None:
        console.print(f"[yellow]{message}[/]", highlight=False)

    def _refresh(self, advance: int = 0) -> None:
        with self._lock:
            rate = f"{self.resolved / self.done:.0%}" if self.done else "-"
            per_second = self.tokens / max(time.monotonic() - self.started_at, 1e-6)
            text = (
                f"done {self.done} · running {self.running} · failed {self.failed_count} · "
                f"pass {rate} · {per_second:,.0f} tok/s"
            )
        self.progress.update(self.row, description=text, advance=advance)


def _run_with_progress(
    tasks: list[RolloutTask],
    out: Path,
    client: ChatClient,
    settings: Settings,
    samples: int,
    concurrency: int,
    seed: int | None,
    total: int,
    executor: Executor,
    servers: list[Lane] | None,
) -> RolloutOutcome:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        row = progress.add_task("starting", total=total)
        events = _ProgressEvents(progress, row)
        return roll_out(tasks, out, client, settings, samples, concurrency, events, seed, executor, servers)


def _print_summary(out: Path, outcome: RolloutOutcome) -> None:
    finished = outcome.finished
    resolved = sum(trajectory.resolved for trajectory in finished)
    console.print(
        f"{len(finished)} episodes run ({resolved} resolved), {len(outcome.failed)} failed, "
        f"{outcome.skipped} recorded earlier; trajectories in {out / 'trajectories.jsonl'}",
        highlight=False,
    )
