"""The executors' contracts that need no cluster: lanes hand each unit its lane's value with at most ``slots``
units per lane at once, shipped directories arrive intact, and a wrong executor or cluster address is one
clear error within seconds."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from cligym.errors import CligymError
from cligym.executor import Lane, LocalExecutor, UnitResources, make_executor
from cligym.executor.shipping import pack_dir, unpack_into, unpack_once
from cligym.model_server import free_port


def test_local_lanes_give_each_unit_its_lane_value_and_respect_the_slots() -> None:
    running: Counter[str] = Counter()
    most: Counter[str] = Counter()
    lock = threading.Lock()

    def work(item: int, url: str) -> tuple[int, str]:
        with lock:
            running[url] += 1
            most[url] = max(most[url], running[url])
        time.sleep(0.05)
        with lock:
            running[url] -= 1
        return item, url

    lanes = [Lane(node=None, slots=2, value="http://a/v1"), Lane(node=None, slots=1, value="http://b/v1")]
    results = list(LocalExecutor(1).map_in_lanes(work, list(range(12)), UnitResources(), lanes))
    assert sorted(item for item, _, _ in results) == list(range(12))
    assert all(error is None and result is not None and result[0] == item for item, result, error in results)
    used = Counter(result[1] for _, result, _ in results if result is not None)
    assert set(used) == {"http://a/v1", "http://b/v1"}
    assert most["http://a/v1"] == 2 and most["http://b/v1"] == 1


def test_local_map_reports_a_failing_unit_with_its_item() -> None:
    def work(item: int) -> int:
        if item == 3:
            raise CligymError("unit 3 cannot run")
        return item * 2

    results = {item: (result, error) for item, result, error in LocalExecutor(2).map(work, [1, 2, 3], UnitResources())}
    assert results[1] == (2, None) and results[2] == (4, None)
    assert isinstance(results[3][1], CligymError) and results[3][0] is None


def test_a_shipped_directory_arrives_intact_and_replaces_the_old_copy(tmp_path: Path) -> None:
    source = tmp_path / "task"
    (source / "tests").mkdir(parents=True)
    (source / "tests" / "test.sh").write_text("#!/bin/bash\nexit 0\n")
    (source / "tests" / "test.sh").chmod(0o755)
    (source / "instruction.md").write_text("fix it\n")
    data = pack_dir(source)
    assert pack_dir(source) == data  # same content, same bytes: one cache entry per content on a node
    os.environ["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    try:
        unpacked = unpack_once(data, "task")
        assert unpacked.name == "task" and unpack_once(data, "task") == unpacked
    finally:
        del os.environ["XDG_CACHE_HOME"]
    assert (unpacked / "instruction.md").read_text() == "fix it\n"
    assert os.access(unpacked / "tests" / "test.sh", os.X_OK)
    target = tmp_path / "run" / "gold"
    target.mkdir(parents=True)
    (target / "stale.txt").write_text("old")
    unpack_into(data, target)
    assert not (target / "stale.txt").exists() and (target / "instruction.md").is_file()
    assert [p.name for p in target.parent.iterdir()] == ["gold"]


def test_executor_choice_errors_are_clear() -> None:
    with pytest.raises(CligymError, match="unknown executor"):
        make_executor("slurm", 1)
    with pytest.raises(CligymError, match="only applies to --executor ray"):
        make_executor("local", 1, "127.0.0.1:6379")


@pytest.mark.parametrize("command", ["rollout", "generate", "gold"])
def test_an_unreachable_cluster_is_one_line_within_seconds(command: str, tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[3]
    target = str(repo / "configs" / "repos" / "inventory.yaml")
    if command == "rollout":
        task = tmp_path / "tasks" / "t"
        for name in ("task.toml", "instruction.md", "environment/Dockerfile", "tests/test.sh"):
            (task / name).parent.mkdir(parents=True, exist_ok=True)
            (task / name).write_text("")
        target = str(tmp_path / "tasks")
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "cligym", command, target, "--executor", "ray", "--ray-address", address],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert time.monotonic() - started < 60
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"no Ray cluster answers at {address}" in result.stderr and "Traceback" not in result.stderr


ONE_MACHINE_CLUSTER = """
import pytest
from cligym.errors import CligymError
from cligym.executor import Lane, UnitResources
from cligym.executor.ray_executor import RayExecutor
from tests.core.executor.test_executors import _fails

executor = RayExecutor("local")
try:
    with pytest.raises(CligymError, match="no node of the Ray cluster can hold a unit asking for CPU 64"):
        list(executor.map(lambda item: item, [1], UnitResources(cpus=64)))
    doubled = executor.map(lambda item: item * 2, [1, 2, 3], UnitResources(cpus=1, memory_mb=64))
    assert sorted(doubled) == [(1, 2, None), (2, 4, None), (3, 6, None)]
    (node,) = [node["NodeID"] for node in executor.ray.nodes() if node["Alive"]]
    lanes = [Lane(node=node, slots=1, value="http://a/v1"), Lane(node=node, slots=1, value="http://b/v1")]
    placed = list(executor.map_in_lanes(lambda item, url: (item, url), list(range(6)), UnitResources(), lanes))
    assert sorted(item for item, _, _ in placed) == list(range(6))
    assert {result[1] for _, result, _ in placed if result} == {"http://a/v1", "http://b/v1"}
    failing = list(executor.map(_fails, [7], UnitResources()))
    assert isinstance(failing[0][2], CligymError) and failing[0][2].message == "unit 7 cannot run"
    with pytest.raises(CligymError, match="cannot hold a unit"):
        list(executor.map_in_lanes(lambda item, url: item, [1], UnitResources(cpus=64), lanes))
finally:
    executor.close()
print("one-machine cluster: ok")
"""


def test_a_one_machine_ray_cluster_runs_units_in_lanes_and_refuses_units_no_node_can_hold() -> None:
    # In a process of its own: ray.init changes this process's environment (RAY_AUTH_MODE), which the
    # clusters the other tests start with `ray start` would inherit.
    repo = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-c", ONE_MACHINE_CLUSTER], capture_output=True, text=True, timeout=300, cwd=repo
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "one-machine cluster: ok" in result.stdout


def _fails(item: int) -> int:
    raise CligymError(f"unit {item} cannot run")
