"""Where units of work run: threads on this machine, or tasks on a Ray cluster (``--executor``)."""

from __future__ import annotations

from enum import StrEnum

from cligym.errors import CligymError
from cligym.executor.local import LocalExecutor
from cligym.executor.units import DOCKER_RESOURCE, Executor, Lane, UnitResources


class ExecutorName(StrEnum):
    LOCAL = "local"
    RAY = "ray"


def make_executor(
    name: ExecutorName | str, workers: int, ray_address: str | None = None, unit_name: str = "cligym-unit"
) -> Executor:
    """``local``: ``workers`` threads here; ``ray``: the cluster at ``ray_address`` (``auto`` by default)."""
    if name == "local":
        if ray_address:
            raise CligymError("--ray-address only applies to --executor ray", "add --executor ray")
        return LocalExecutor(workers)
    if name == "ray":
        from cligym.executor.ray_executor import RayExecutor

        return RayExecutor(ray_address, unit_name=unit_name)
    raise CligymError(f"unknown executor {name!r}", "use --executor local or --executor ray")


__all__ = ["DOCKER_RESOURCE", "Executor", "ExecutorName", "Lane", "LocalExecutor", "UnitResources", "make_executor"]
