"""Units per hour on a local Ray cluster with 1 and 2 worker nodes (each one CPU, one Docker slot), against
the local executor with the same number of units at once: rollout episodes (oracle replayed by a scripted
model, verifier included) and candidate validations (build, break, determinism, oracle repair) of catalog
candidates of the bundled example. All nodes share this machine's 2 cores and Docker daemon, so the
second worker adds a second lane, not a second machine.

    python bench/ray_throughput.py                     # makes one task from the bundled example first
    python bench/ray_throughput.py --episodes 8 --validations 6 --workers 1,2

See bench/README.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rollout_throughput import make_task, oracle_replayer  # this directory's own benchmark

from cligym.executor import Executor, LocalExecutor
from cligym.executor.ray_executor import RayExecutor
from cligym.executor.shipping import pack_dir
from cligym.generation.generate import VALIDATION_RESOURCES
from cligym.generation.gold import GoldRecord, build_gold
from cligym.generation.gold.build import gold_dir
from cligym.generation.inverters.catalog import all_catalog_candidates
from cligym.generation.remote_units import GoldOnNode, ValidationJob, validate_job
from cligym.llm import ChatClient
from cligym.llm.scripted_server import ScriptedModelServer
from cligym.model_server import free_port
from cligym.rollout.runner import roll_out
from cligym.rollout.task_dir import RolloutTask, load_task
from cligym.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).parent / "ray")
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}


def start_cluster(workers: int) -> str:
    port = free_port()
    common = ["--node-ip-address=127.0.0.1", "--object-store-memory=150000000", "--disable-usage-stats"]
    run = lambda *args: subprocess.run([RAY, *args], check=True, capture_output=True, env=ENV)  # noqa: E731
    run("start", "--head", f"--port={port}", "--num-cpus=0", "--include-dashboard=false", *common)
    for _ in range(workers):
        run("start", f"--address=127.0.0.1:{port}", "--num-cpus=1", '--resources={"docker": 1}', *common)
    address = f"127.0.0.1:{port}"
    script = f"import ray, json; ray.init(address={address!r}); print(json.dumps(ray.cluster_resources()))"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listing = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV)
        if json.loads(listing.stdout.strip().splitlines()[-1]).get("docker", 0) >= workers:
            return address
        time.sleep(1)
    raise RuntimeError("the worker nodes did not join")


def _ray_executor(workers: int) -> Executor:
    return RayExecutor(start_cluster(workers))


def _no_teardown() -> None:
    pass


def stop_cluster() -> None:
    subprocess.run([RAY, "stop", "--force"], capture_output=True, env=ENV)


def episodes_per_hour(task: RolloutTask, episodes: int, executor: Executor, work: Path) -> tuple[int, float]:
    with ScriptedModelServer([], then=oracle_replayer(task)) as server:
        settings = load_settings(None, [f"model.base_url={server.base_url}", f"model.model={server.model}"])
        client = ChatClient(server.base_url, server.model)
        run_dir = Path(tempfile.mkdtemp(prefix=f"rollout-{executor.name}-", dir=work))
        started = time.monotonic()
        outcome = roll_out([task], run_dir, client, settings, samples=episodes, concurrency=1, executor=executor)
        seconds = time.monotonic() - started
    return sum(t.resolved for t in outcome.finished), 3600 * len(outcome.finished) / seconds


def validations_per_hour(gold: GoldOnNode, count: int, executor: Executor, settings: Settings) -> tuple[int, float]:
    candidates = [c for c in all_catalog_candidates(gold.record) if not c.provenance.parents][:count]
    jobs = [ValidationJob(gold, candidate, settings, "bench-ray") for candidate in candidates]
    started = time.monotonic()
    results = [result for _, result, error in executor.map(validate_job, jobs, VALIDATION_RESOURCES) if error is None]
    seconds = time.monotonic() - started
    return sum(1 for r in results if r is not None and r.validation.valid), 3600 * len(jobs) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", type=Path, help="An exported Harbor task directory (default: make one).")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--validations", type=int, default=6)
    parser.add_argument("--workers", default="1,2", help="Worker nodes per cluster, comma-separated.")
    args = parser.parse_args()
    console = Console()
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="cligym-bench-ray-") as scratch:
        work = Path(scratch)
        task = load_task(args.task or make_task(work))
        gold_record: GoldRecord = build_gold(REPO / "configs/repos/inventory.yaml", settings, work, lambda _: None)
        gold = GoldOnNode(gold_record, pack_dir(gold_dir(work, gold_record.name) / "context"), None)
        table = Table(title="units per hour: local threads vs a local Ray cluster (this machine: 2 cores)")
        for column in ("executor", "units at once", "episodes/h", "resolved", "validations/h", "valid"):
            table.add_column(column, justify="right")
        for workers in (int(value) for value in args.workers.split(",")):
            runs: list[tuple[str, Callable[[], Executor], Callable[[], None]]] = [
                ("local", functools.partial(LocalExecutor, workers), _no_teardown),
                ("ray", functools.partial(_ray_executor, workers), stop_cluster),
            ]
            for name, make, teardown in runs:
                executor = make()
                try:
                    resolved, episodes_h = episodes_per_hour(task, args.episodes, executor, work)
                    valid, validations_h = validations_per_hour(gold, args.validations, executor, settings)
                finally:
                    executor.close()
                    teardown()
                table.add_row(
                    name, str(workers), f"{episodes_h:.0f}", f"{resolved}/{args.episodes}", f"{validations_h:.0f}",
                    f"{valid}/{args.validations}",
                )  # fmt: skip
        console.print(table)


if __name__ == "__main__":
    main()
