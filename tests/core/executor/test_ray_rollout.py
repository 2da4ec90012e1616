"""`cligym rollout --executor ray` on a real local cluster: the same episodes and verdicts as the local
executor, every episode recorded once although a worker process is killed mid-episode, and one vLLM server
per GPU node with each episode placed on the node of the server it talked to."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from cligym.llm.scripted_server import ScriptedModelServer
from cligym.rollout.runner import EPISODE_STAGE
from cligym.rollout.trajectory import TRAJECTORIES_FILE, Trajectory, read_trajectories
from cligym.run_state import RunState
from tests.core.executor.conftest import RayCluster
from tests.interrupts import interruptible
from tests.rollout.test_rollout_command import look_then_submit, rollout_argv, run_containers

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.ray]

ENV = {**os.environ, "COLUMNS": "200", "RAY_USAGE_STATS_ENABLED": "0"}


def outcome(trajectory: Trajectory) -> tuple[Any, ...]:
    """What an episode did and how it was judged, without timings and ids that differ between runs."""
    commands = tuple(step.command for step in trajectory.steps)
    verifier = trajectory.verifier.tests if trajectory.verifier else {}
    return (trajectory.episode_id, commands, trajectory.termination_reason, trajectory.reward, verifier)


def test_ray_executor_gives_the_local_executors_results(
    ray_cluster: RayCluster, exported_task_dir: Path, tmp_path: Path
) -> None:
    with ScriptedModelServer([], then=look_then_submit, model="scripted") as server:
        local, ray = tmp_path / "local", tmp_path / "ray"
        for out, options in ((local, ()), (ray, ("--executor", "ray", "--ray-address", ray_cluster.address))):
            argv = rollout_argv(exported_task_dir, out, server.base_url, "--samples", "4", *options)
            result = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=ENV)
            assert result.returncode == 0, result.stdout + result.stderr
    assert "ray executor" in result.stdout
    on_ray = read_trajectories(ray)
    assert sorted(map(outcome, on_ray)) == sorted(map(outcome, read_trajectories(local)))
    assert len(on_ray) == 4 and all(t.termination_reason == "submitted" for t in on_ray)
    # Units ran on both worker nodes, and the records name the task directory the user gave.
    assert {t.node for t in on_ray} == set(ray_cluster.node_ids())
    assert {t.task_path for t in on_ray} == {str(exported_task_dir)}
    assert run_containers(ray) == []


def _episode_workers() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline and cmdline[0].startswith("ray::cligym-episode"):
            found.append(process)
    return found


def test_a_worker_killed_mid_episode_is_retried_and_every_episode_recorded_once(
    ray_cluster: RayCluster, exported_task_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ray"
    with ScriptedModelServer([], then=look_then_submit, model="scripted") as server:
        argv = rollout_argv(
            exported_task_dir, out, server.base_url, "--samples", "6",
            "--executor", "ray", "--ray-address", ray_cluster.address,
        )  # fmt: skip
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
        # Both workers are inside an episode (each has its container) when one of them is killed.
        _wait_for_two_episodes(process, out, workers=True)
        victim = _episode_workers()[0]
        victim.send_signal(signal.SIGKILL)
        output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output
    records = (out / TRAJECTORIES_FILE).read_text().splitlines()
    episodes = [json.loads(line)["episode_id"] for line in records]
    assert len(episodes) == 6 and len(set(episodes)) == 6  # every episode, none twice
    state = RunState(out)
    assert [unit.status for unit in state.units(EPISODE_STAGE)] == ["done"] * 6
    state.close()
    # The killed attempt's container outlived its worker; the run found it by label and removed it.
    assert "whose worker was lost" in output
    assert run_containers(out) == []


def _wait_for_two_episodes(process: subprocess.Popen[str], out: Path, workers: bool) -> None:
    """Until two episodes have their containers (and, with ``workers``, their unit processes are seen)."""
    deadline = time.monotonic() + 600
    while len(_run_containers(out)) < 2 or (workers and len(_episode_workers()) < 2):
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, "no two episodes ran at once"
        time.sleep(0.2)


def _run_containers(out: Path) -> list[Any]:
    return run_containers(out) if (out / "run-id").exists() else []


def test_serve_vllm_starts_one_server_per_gpu_node_and_places_episodes_next_to_it(
    ray_cluster: RayCluster, exported_task_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "served"
    argv = [
        sys.executable, "-m", "cligym", "rollout", str(exported_task_dir), "--out", str(out), "--samples", "6",
        "--executor", "ray", "--ray-address", ray_cluster.address, "--concurrency", "1",
        "--serve", "vllm", "--model", "/models/Qwen3-8B", "--vllm-arg=--enable-auto-tool-choice",
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    starts = [json.loads(line) for line in ray_cluster.vllm_log.read_text().splitlines()]
    assert len(starts) == 2 and len({start["pid"] for start in starts}) == 2  # one server per GPU node
    assert all(start["argv"][:2] == ["serve", "/models/Qwen3-8B"] for start in starts)
    for start in starts:
        with pytest.raises(ProcessLookupError):
            os.kill(start["pid"], 0)  # stopped with the run
    trajectories = read_trajectories(out)
    assert len(trajectories) == 6
    ports = {int(start["argv"][start["argv"].index("--port") + 1]) for start in starts}
    node_of_port: dict[int, set[str]] = {}
    for trajectory in trajectories:
        port = int(trajectory.sampling.base_url.rsplit(":", 1)[1].split("/")[0])
        assert port in ports
        node_of_port.setdefault(port, set()).add(trajectory.node)
    # Each server's episodes all ran on one node, a different one per server.
    assert all(len(nodes) == 1 for nodes in node_of_port.values())
    assert len(set().union(*node_of_port.values())) == len(node_of_port)


def test_ctrl_c_on_the_coordinator_cancels_the_units_and_removes_their_containers(
    ray_cluster: RayCluster, exported_task_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "interrupted"
    with ScriptedModelServer([], then=look_then_submit, model="scripted") as server:
        argv = rollout_argv(
            exported_task_dir, out, server.base_url, "--samples", "8",
            "--executor", "ray", "--ray-address", ray_cluster.address,
        )  # fmt: skip
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV, preexec_fn=interruptible
        )
        _wait_for_two_episodes(process, out, workers=False)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=300)
    assert process.returncode == 130, output
    assert run_containers(out) == []  # removed on the worker nodes, by the coordinator's session label
    deadline = time.monotonic() + 30
    while _episode_workers():  # the cancelled units' worker processes are gone too
        assert time.monotonic() < deadline, "episode units still run after Ctrl-C"
        time.sleep(0.5)
    assert len(read_trajectories(out)) < 8
