"""Where a rollout's model is served: an endpoint the user names, one vLLM server started here, one per GPU
node of a Ray cluster, or servers already running on named nodes. One place decides, for every caller."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cligym.errors import CligymError
from cligym.executor import Executor, ExecutorName, Lane
from cligym.llm import ChatClient
from cligym.model_server import ModelServer
from cligym.settings import Settings
from cligym.vllm_flags import vllm_serve_args


class ServeWith(StrEnum):
    VLLM = "vllm"


@dataclass(frozen=True)
class ServingRequest:
    """What the user asked for: a server to start (``serve``) or servers already up on nodes (``node_urls``)."""

    serve: ServeWith | None = None
    model: str | None = None
    tensor_parallel_size: int = 1
    vllm_args: tuple[str, ...] = ()
    node_urls: tuple[str, ...] = ()
    tool_call_parser: str | None = None

    def check(self, executor_name: ExecutorName | str) -> None:
        """Refuse combinations that cannot work, before anything starts."""
        if self.node_urls and (executor_name != ExecutorName.RAY or self.serve is not None):
            raise CligymError(
                "--node-url needs --executor ray and no --serve", "drop --node-url, or use --executor ray"
            )
        if self.serve is not None and not self.model:
            raise CligymError(f"--serve {self.serve} needs --model (a path or hub id)")


def start_serving(
    stack: ExitStack,
    request: ServingRequest,
    settings: Settings,
    executor: Executor,
    concurrency: int,
    out: Path,
    say: Callable[[str], None],
) -> tuple[Settings, list[Lane] | None]:
    """Start what ``request`` asks for (stopped when ``stack`` closes) and point ``settings.model`` at it; the
    lanes are the per-node servers episodes are spread over (None: one endpoint for all). Every endpoint is
    checked reachable before returning."""
    servers: list[Lane] | None = None
    vllm_args: list[str] = []
    if request.serve is not None:
        assert request.model
        out.mkdir(parents=True, exist_ok=True)
        tool_calls = settings.rollout.action_format == "tool"
        vllm_args = vllm_serve_args(
            request.model,
            request.vllm_args,
            tool_calls=tool_calls,
            tool_call_parser=request.tool_call_parser or settings.rollout.tool_call_parser,
        )
    if request.serve is not None and executor.name == ExecutorName.RAY:
        from cligym.executor.ray_executor import RayExecutor
        from cligym.executor.ray_servers import vllm_per_gpu_node

        assert isinstance(executor, RayExecutor) and request.model
        say(f"starting vllm serve {request.model} on every GPU node (logs: /tmp/cligym-vllm on the nodes)")
        servers = stack.enter_context(
            vllm_per_gpu_node(executor, request.model, request.tensor_parallel_size, vllm_args, concurrency, out.name)
        )
    elif request.node_urls:
        from cligym.executor.ray_executor import RayExecutor
        from cligym.executor.ray_servers import lanes_for_urls

        assert isinstance(executor, RayExecutor)
        servers = lanes_for_urls(executor, list(request.node_urls), concurrency)
    if servers:
        chosen = {"base_url": servers[0].value} | ({"model": request.model} if request.model else {})
        settings = _with_model(settings, chosen)
    elif request.serve is not None:
        assert request.model
        say(f"starting vllm serve {request.model} (log: {out / 'vllm.log'})")
        server = stack.enter_context(
            ModelServer(
                request.model,
                tensor_parallel_size=request.tensor_parallel_size,
                extra_args=vllm_args,
                log_path=out / "vllm.log",
            )
        )
        settings = _with_model(settings, {"base_url": server.base_url, "model": request.model})
    endpoints = [settings.model.model_copy(update={"base_url": lane.value}) for lane in servers or []]
    for endpoint in endpoints or [settings.model]:
        ChatClient.from_settings(endpoint).check_available()
    return settings, servers


def _with_model(settings: Settings, update: dict[str, str]) -> Settings:
    return settings.model_copy(update={"model": settings.model.model_copy(update=update)})
