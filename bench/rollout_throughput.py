"""Rollout cost on this machine: what one agent step costs above a raw ``docker exec`` of the same command
(model answering instantly from a scripted server on 127.0.0.1), and episodes per hour at several
concurrencies, each episode replaying the task's oracle repair and then judged by the task's verifier.

    python bench/rollout_throughput.py                       # makes one task from the bundled example first
    python bench/rollout_throughput.py --task runs/demo/harbor/TASK --episodes 8 --concurrency 1,2,4

See bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cligym.llm import ChatClient
from cligym.llm.scripted_server import Reply, ScriptedModelServer, tool_reply
from cligym.rollout.episode import Episode
from cligym.rollout.runner import roll_out
from cligym.rollout.task_dir import RolloutTask, load_task
from cligym.rollout.task_image import ensure_task_image
from cligym.sandbox import Sandbox
from cligym.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
STEP_COMMAND = "cat /etc/os-release > /dev/null"


def make_task(work: Path) -> Path:
    """One exported task from the bundled example (what `cligym generate` writes)."""
    out = work / "generate"
    command = [sys.executable, "-m", "cligym", "generate", str(REPO / "configs/repos/inventory.yaml")]
    command += ["--tasks", "1", "--export", "harbor", "--combine", "0", "--out", str(out)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return next(path for path in sorted((out / "harbor").iterdir()) if not path.name.endswith("-hinted"))


def raw_exec_seconds(image: str, repeats: int) -> list[float]:
    """``docker exec`` of the command through the Docker API, nothing else."""
    with Sandbox(image, name_prefix="cligym-bench") as box:
        times = []
        for _ in range(repeats):
            started = time.monotonic()
            box.container.exec_run(["bash", "-c", STEP_COMMAND])
            times.append(time.monotonic() - started)
    return times


def episode_seconds(task: RolloutTask, image: str, steps: int) -> tuple[float, Any]:
    step = tool_reply("bash", {"command": STEP_COMMAND})
    settings = load_settings()
    rollout = settings.rollout.model_copy(update={"max_steps": steps})
    with ScriptedModelServer([], then=step) as server:
        client = ChatClient(server.base_url, server.model)
        started = time.monotonic()
        trajectory = Episode(client, task, image, rollout, settings.sandbox).run()
    return time.monotonic() - started, trajectory


def step_overhead(task: RolloutTask, image: str, repeats: int) -> dict[str, float]:
    """Per-step cost from two episode lengths (container start and verifier cancel out), minus raw exec."""
    raw = statistics.median(raw_exec_seconds(image, repeats))
    short_seconds, _ = episode_seconds(task, image, 5)
    long_seconds, trajectory = episode_seconds(task, image, 5 + repeats)
    per_step = (long_seconds - short_seconds) / repeats
    commands = [step for step in trajectory.steps if step.command is not None]
    return {
        "raw docker exec (median)": raw * 1000,
        "agent step (wall)": per_step * 1000,
        "overhead per step": (per_step - raw) * 1000,
        "  of which model round trip": statistics.mean(step.model_seconds for step in commands) * 1000,
        "  of which sandbox exec": statistics.mean(step.duration_s for step in commands) * 1000,
    }


def oracle_script(task: RolloutTask) -> list[Reply]:
    lines = (task.path / "solution" / "solve.sh").read_text().splitlines()
    commands = [line for line in lines if line and not line.startswith("#") and line != "set -e"]
    return [tool_reply("bash", {"command": command}) for command in commands] + [tool_reply("submit")]


def oracle_replayer(task: RolloutTask) -> Callable[[dict[str, Any]], Reply]:
    """Any number of concurrent episodes each replay the oracle, turn by turn."""
    script = oracle_script(task)

    def replay(body: dict[str, Any]) -> Reply:
        done = sum(1 for message in body["messages"] if message["role"] == "assistant")
        return script[min(done, len(script) - 1)]

    return replay


def throughput(task: RolloutTask, episodes: int, concurrency: int, work: Path) -> dict[str, float]:
    with ScriptedModelServer([], then=oracle_replayer(task)) as server:
        client = ChatClient(server.base_url, server.model)
        run_dir = work / f"rollout-c{concurrency}"
        started = time.monotonic()
        outcome = roll_out([task], run_dir, client, load_settings(), samples=episodes, concurrency=concurrency)
        seconds = time.monotonic() - started
    resolved = sum(trajectory.resolved for trajectory in outcome.finished)
    verifier = statistics.mean(t.verifier.seconds for t in outcome.finished if t.verifier is not None)
    return {
        "episodes": len(outcome.finished),
        "resolved": resolved,
        "wall_s": seconds,
        "episodes_per_hour": 3600 * len(outcome.finished) / seconds,
        "s_per_episode": statistics.mean(t.totals.seconds for t in outcome.finished),
        "verifier_s": verifier,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", type=Path, help="An exported Harbor task directory (default: make one).")
    parser.add_argument("--episodes", type=int, default=8, help="Episodes per concurrency level.")
    parser.add_argument("--concurrency", default="1,2,4", help="Concurrency levels, comma-separated.")
    parser.add_argument("--steps", type=int, default=40, help="Steps measured for the per-step overhead.")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="cligym-bench-") as scratch:
        work = Path(scratch)
        task_dir = args.task or make_task(work)
        task = load_task(task_dir)
        image = ensure_task_image(task)
        overhead = step_overhead(task, image, args.steps)
        table = Table(title=f"one agent step: {STEP_COMMAND!r}, zero-latency scripted model")
        table.add_column("measure")
        table.add_column("ms", justify="right")
        for name, value in overhead.items():
            table.add_row(name, f"{value:.1f}")
        console.print(table)

        table = Table(title=f"episodes per hour: {task.task_id}, oracle replayed, verifier included")
        for column in ("concurrency", "episodes", "resolved", "wall s", "episodes/h", "s/episode", "verifier s"):
            table.add_column(column, justify="right")
        for level in (int(value) for value in args.concurrency.split(",")):
            row = throughput(task, args.episodes, level, work)
            table.add_row(
                str(level),
                str(row["episodes"]),
                str(row["resolved"]),
                f"{row['wall_s']:.1f}",
                f"{row['episodes_per_hour']:.0f}",
                f"{row['s_per_episode']:.1f}",
                f"{row['verifier_s']:.1f}",
            )
        console.print(table)


if __name__ == "__main__":
    main()
