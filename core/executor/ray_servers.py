"""Model servers on a Ray cluster: one ``vllm serve`` per GPU node (a Ray actor holding the GPUs), or URLs
the user names per node; each becomes a lane, so that episodes run on the node of the server they use."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from cligym.errors import CligymError
from cligym.executor.ray_executor import RayExecutor
from cligym.executor.units import Lane

SERVER_START_TIMEOUT_S = 3600.0


class _ServerActor:
    """Lives on one GPU node for the run; its ``vllm serve`` listens on every interface of that node."""

    def __init__(self, model: str, tensor_parallel_size: int, extra_args: list[str], log_name: str) -> None:
        import tempfile
        from pathlib import Path

        import ray

        from cligym.model_server import ModelServer

        self.node_id = ray.get_runtime_context().get_node_id()
        address = ray.util.get_node_ip_address()
        log_path = Path(tempfile.gettempdir()) / "cligym-vllm" / f"{log_name}-{self.node_id[:8]}.log"
        self.server = ModelServer(
            model,
            tensor_parallel_size=tensor_parallel_size,
            extra_args=extra_args,
            host="0.0.0.0",
            advertise=address,
            log_path=log_path,
            startup_timeout=SERVER_START_TIMEOUT_S,
        )

    def start(self) -> tuple[str, str]:
        self.server.start()
        return self.node_id, self.server.base_url

    def stop(self) -> None:
        self.server.stop()


@contextmanager
def vllm_per_gpu_node(
    executor: RayExecutor,
    model: str,
    tensor_parallel_size: int,
    extra_args: Sequence[str],
    slots: int,
    log_name: str = "vllm",
) -> Iterator[list[Lane]]:
    """Start ``vllm serve`` on every node with at least ``tensor_parallel_size`` GPUs; yields one lane per
    server (``slots`` episodes at once next to it) and stops every server on exit, Ctrl-C included."""
    ray = executor.ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [
        node["NodeID"]
        for node in ray.nodes()
        if node.get("Alive") and node.get("Resources", {}).get("GPU", 0) >= tensor_parallel_size
    ]
    if not nodes:
        raise CligymError(
            f"no node of the Ray cluster has {tensor_parallel_size} GPUs for --serve vllm",
            "start GPU nodes with `ray start --address HEAD:6379 --num-gpus N`, or pass --node-url NODE=URL",
        )
    actor_class = ray.remote(_ServerActor)
    actors: list[Any] = [
        actor_class.options(
            num_gpus=tensor_parallel_size,
            num_cpus=0,
            max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node, soft=False),
        ).remote(model, tensor_parallel_size, list(extra_args), log_name)
        for node in nodes
    ]
    try:
        started = []
        for actor in actors:
            try:
                started.append(ray.get(actor.start.remote()))
            except ray.exceptions.RayTaskError as error:
                cause = error.cause
                raise cause if isinstance(cause, CligymError) else CligymError(str(cause)) from None
        yield [Lane(node=node, slots=slots, value=url) for node, url in started]
    finally:
        for actor in actors:
            with contextlib.suppress(Exception):
                ray.get(actor.stop.remote(), timeout=60)
            with contextlib.suppress(Exception):
                ray.kill(actor)


def lanes_for_urls(executor: RayExecutor, pairs: Sequence[str], slots: int) -> list[Lane]:
    """Lanes from ``NODE=URL`` pairs, NODE being a Ray node id (or a unique prefix of one) or a node's IP."""
    nodes = [node for node in executor.ray.nodes() if node.get("Alive")]
    lanes = []
    for pair in pairs:
        node_name, separator, url = pair.partition("=")
        if not separator or not url.startswith(("http://", "https://")):
            raise CligymError(
                f"--node-url {pair!r} is not NODE=URL", "e.g. --node-url 10.0.0.5=http://10.0.0.5:8000/v1"
            )
        matches = [
            node["NodeID"]
            for node in nodes
            if node["NodeID"].startswith(node_name) or node.get("NodeManagerAddress") == node_name
        ]
        if len(matches) != 1:
            found = "no live node" if not matches else f"{len(matches)} nodes"
            raise CligymError(
                f"--node-url {pair!r}: {found} match {node_name!r}",
                "name the node by its id (`ray list nodes`) when several nodes share an address",
            )
        lanes.append(Lane(node=matches[0], slots=slots, value=url.rstrip("/")))
    return lanes
