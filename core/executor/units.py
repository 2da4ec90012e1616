"""What an executor needs to know about a unit of work besides the work itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Outcome = tuple[Item, Result | None, BaseException | None]

DOCKER_RESOURCE = "docker"


@dataclass(frozen=True)
class UnitResources:
    """What one unit holds while it runs; Ray places it on a node that has all of it free.

    ``docker`` units only go to nodes started with the custom ``docker`` resource (a node without a Docker
    daemon never gets container work); ``memory_mb`` is reserved, not enforced (the sandbox limits are).
    """

    cpus: float = 1.0
    memory_mb: int | None = None
    docker: bool = True


@dataclass(frozen=True)
class Lane:
    """A place units can go, ``slots`` at a time, each unit there getting ``value`` (the URL of the model
    server next to it). ``node`` is a Ray node id; the local executor runs every lane on this machine."""

    node: str | None
    slots: int
    value: Any


class Executor(Protocol):
    """Runs units and yields ``(item, result, None)`` or ``(item, None, error)`` in completion order.

    Results come back to the caller, who alone writes the run state: units never touch the run directory.
    """

    name: str

    def map(
        self, work: Callable[[Item], Result], items: list[Item], resources: UnitResources
    ) -> Iterator[Outcome[Item, Result]]: ...

    def map_in_lanes(
        self, work: Callable[[Item, Any], Result], items: list[Item], resources: UnitResources, lanes: list[Lane]
    ) -> Iterator[Outcome[Item, Result]]: ...

    def remove_leftovers(self) -> int:
        """After the last unit: remove containers that units lost mid-way (a killed worker) left on any node."""
        ...

    def interrupted(self) -> int:
        """After Ctrl-C: stop the units still running and remove their containers on every node."""
        ...

    def close(self) -> None: ...
