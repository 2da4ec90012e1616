"""`cligym generate --executor ray` on a real local cluster: the gold build and the validations run as units
on the worker nodes, a worker killed mid-validation is retried elsewhere, and the run judges the same
candidates with the same verdicts and exports the same tasks as the local executor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from cligym.base_images import BaseImage
from cligym.docker_connection import docker_client
from cligym.generation.attempt_log import read_attempts
from cligym.generation.gold import GoldRecord
from cligym.generation.task_record import TaskRecord
from cligym.labels import RUN_ID
from cligym.llm.scripted_server import Reply, ScriptedModelServer, tool_reply
from cligym.run_state import RunState
from tests.conftest import registry_api
from tests.core.executor.conftest import RayCluster
from tests.generation.test_generate import generate
from tests.generation.test_generate_with_agent import HINTED, STATEMENT, SUBMIT
from tests.generation.test_generate_with_agent import generate as generate_with_agent

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.ray]

# The depth sweep is covered in test_validation; here it would only lengthen every validation on both sides.
OPTIONS = (
    "--candidates-at-once", "2", "--categories", "python-package,shared-library", "-o", "generation.depth_sweep=false",
)  # fmt: skip


def _generation_workers() -> list[psutil.Process]:
    return [
        process
        for process in psutil.process_iter(["cmdline"])
        if (process.info["cmdline"] or [""])[0].startswith("ray::cligym-generation")
    ]


def _verdicts(out: Path) -> list[tuple[str, str | None, str | None, tuple[str, ...]]]:
    return sorted(
        (a.key, a.rejected_by, a.task_id, tuple(a.validation.fail_to_pass)) for a in read_attempts(out, "inventory")
    )


def test_generation_on_ray_matches_local_even_with_a_worker_killed_mid_validation(
    base_image: BaseImage, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    result = generate(local, 2, "inventory", *OPTIONS)
    assert result.returncode == 0, result.stdout + result.stderr

    on_ray = tmp_path / "on-ray"
    spec = Path(__file__).resolve().parents[3] / "configs" / "repos" / "inventory.yaml"
    argv = [
        sys.executable, "-m", "cligym", "generate", str(spec),
        "--tasks", "2", "--out", str(on_ray), "--executor", "ray", "--ray-address", ray_cluster.address, *OPTIONS,
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 900
    # A validation container of this run exists: its worker is killed in the middle of that validation.
    while not docker_client().containers.list(filters={"label": f"{RUN_ID}={on_ray.name}"}):
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, "no validation started"
        time.sleep(0.2)
    workers = _generation_workers()
    assert workers, "a validation container runs, so a unit's worker process does"
    # Every unit running now is lost (which worker holds the container is not known from outside): the one
    # in the middle of a validation leaves its container behind.
    for worker in workers:
        worker.send_signal(signal.SIGKILL)
    output, _ = process.communicate(timeout=1800)
    assert process.returncode == 0, output

    assert _verdicts(on_ray) == _verdicts(local)
    assert len([verdict for verdict in _verdicts(on_ray) if verdict[2]]) == 2
    assert sorted(p.name for p in (on_ray / "harbor").iterdir()) == sorted(p.name for p in (local / "harbor").iterdir())
    state = RunState(on_ray)
    units = state.units("candidate")
    state.close()
    assert units and all(unit.attempts == 1 and unit.status in ("done", "failed") for unit in units)
    # The coordinator wrote the gold directory the node built: the record, the build context, the logs.
    gold = GoldRecord.read(on_ray / "gold" / "inventory" / "record.json")
    assert gold.gold_tests and (on_ray / "gold" / "inventory" / "context" / "Dockerfile").is_file()
    assert "whose worker was lost" in output
    assert docker_client().containers.list(all=True, filters={"label": f"{RUN_ID}={on_ray.name}"}) == []


def test_gold_on_ray_writes_the_record_and_state_on_the_coordinator(
    base_image: BaseImage, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    spec = Path(__file__).resolve().parents[3] / "configs" / "repos" / "inventory.yaml"
    run_dir = tmp_path / "gold-run"
    argv = [sys.executable, "-m", "cligym", "gold", str(spec), "--run-dir", str(run_dir)]
    argv += ["--executor", "ray", "--ray-address", ray_cluster.address]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=1800, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    record = GoldRecord.read(run_dir / "gold" / "inventory" / "record.json")
    assert record.gold_tests and record.spec.name == "inventory"
    assert (run_dir / "gold" / "inventory" / "logs").is_dir()
    state = RunState(run_dir)
    (unit,) = state.units("gold")
    state.close()
    assert unit.status == "done" and unit.attempts == 1
    assert "inventory" in result.stdout and "gold environments" in result.stdout


def test_an_agent_proposal_runs_as_a_unit_on_a_worker_node_and_the_gold_image_goes_to_the_registry(
    base_image: BaseImage, ray_cluster: RayCluster, local_registry: str, tmp_path: Path
) -> None:
    script = [
        tool_reply("submit", SUBMIT, prompt_tokens=2000, completion_tokens=100),  # asked from a worker node
        Reply(content=STATEMENT, prompt_tokens=400, completion_tokens=30),  # asked by the coordinator
        Reply(content=HINTED, prompt_tokens=410, completion_tokens=40),
    ]
    out = tmp_path / "agent-on-ray"
    with ScriptedModelServer(script, model="Qwen/Qwen3-8B") as server:
        result = generate_with_agent(
            out,
            server.base_url,
            *("--executor", "ray", "--ray-address", ray_cluster.address, "--gold-registry", local_registry),
        )
    assert result.returncode == 0, result.stdout + result.stderr
    (record_path,) = (out / "tasks").glob("*/record.json")
    task = TaskRecord.model_validate_json(record_path.read_text())
    assert task.candidate.inverter == "agent:Qwen/Qwen3-8B" and task.validation.valid
    assert "tests/test_store.py::test_add_and_get" in task.validation.fail_to_pass
    assert (task.statement, task.statement_with_hint) == (STATEMENT, HINTED)
    (attempt,) = read_attempts(out)
    assert attempt.candidate.provenance.tokens == 2100
    # The node that built the gold image pushed it; the exported task starts FROM the registry's copy.
    gold = GoldRecord.read(out / "gold" / "inventory" / "record.json")
    reference = f"{local_registry}/{gold.image.tag}"
    dockerfiles = list((out / "harbor").glob("*/environment/Dockerfile"))
    assert dockerfiles and all(path.read_text().startswith(f"FROM {reference}\n") for path in dockerfiles)
    name, tag = gold.image.tag.split(":")
    assert tag in registry_api(local_registry, f"{name}/tags/list")["tags"]
