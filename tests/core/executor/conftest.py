"""A real Ray cluster on 127.0.0.1 for the executor tests, started the way docs/ray.md tells users to:
``ray start --head`` without CPUs or Docker (a coordinator node), then two worker nodes, each with one CPU,
the ``docker`` resource and one (pretend) GPU so that ``--serve vllm`` places a server on each. The worker
nodes get a stand-in ``vllm`` on their PATH (tests/rollout's), which records how it was started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cligym.model_server import free_port
from tests.generation.conftest import validated_task as validated_task
from tests.rollout.conftest import exported_task_dir as exported_task_dir
from tests.rollout.test_rollout_command import STAND_IN_VLLM

RAY = str(Path(sys.executable).parent / "ray")
WORKERS = 2
# One authentication mode for the head, the workers and every coordinator the tests start: Ray turns token
# authentication on for a head when ~/.ray/auth_token exists but not for a joining worker, and ray.init
# writes that file. A cluster on 127.0.0.1 needs no token.
os.environ["RAY_AUTH_MODE"] = "disabled"


@dataclass(frozen=True)
class RayCluster:
    address: str
    vllm_log: Path

    def node_ids(self) -> list[str]:
        """Live worker nodes (those offering Docker)."""
        script = (
            f"import json, ray; ray.init(address={self.address!r}, log_to_driver=False, configure_logging=False); "
            "print(json.dumps(ray.nodes()))"
        )
        listing = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        nodes = json.loads(listing.stdout.strip().splitlines()[-1])
        return [node["NodeID"] for node in nodes if node["Alive"] and node["Resources"].get("docker")]


def _ray(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run([RAY, *args], capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="package")  # up while tests/core/executor runs, down before the rest of the suite
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    bin_dir = tmp_path_factory.mktemp("stand-in-bin")
    vllm = bin_dir / "vllm"
    vllm.write_text(STAND_IN_VLLM.format(python=sys.executable))
    vllm.chmod(0o755)
    vllm_log = bin_dir / "vllm-starts.jsonl"
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "STAND_IN_LOG": str(vllm_log),
    }
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address=127.0.0.1", "--object-store-memory=150000000", "--disable-usage-stats"]
    _ray("start", "--head", f"--port={port}", "--num-cpus=0", "--include-dashboard=false", *common, env=env)
    try:
        for _ in range(WORKERS):
            worker = ["--num-cpus=1", "--num-gpus=1", '--resources={"docker": 2}', *common]
            _ray("start", f"--address={address}", *worker, env=env)
        cluster = RayCluster(address, vllm_log)
        deadline = time.monotonic() + 120
        while len(cluster.node_ids()) < WORKERS:
            assert time.monotonic() < deadline, "the worker nodes did not join the cluster"
            time.sleep(1)
        yield cluster
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, env=env, timeout=120)
