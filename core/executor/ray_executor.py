"""The Ray executor: units as Ray tasks on a cluster whose nodes each have their own Docker daemon.

Ray places each unit by its declared resources (CPU, memory, the custom ``docker`` resource) and re-runs a
unit whose worker process or node died, up to ``max_retries`` times; an exception raised by the unit itself
is a result, never retried. Results come back to this process only, which is the run state's sole writer,
so a retried unit is still recorded once. Containers carry this process's session label on every node, which
is how Ctrl-C and lost workers are cleaned up.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from cligym.errors import CligymError
from cligym.executor.units import DOCKER_RESOURCE, Item, Lane, Outcome, Result, UnitResources
from cligym.labels import current_session

LOCAL_CLUSTER = "local"
WAIT_S = 0.5
CLEANUP_TIMEOUT_S = 120.0
# Units submitted ahead of free slots: enough to keep every slot busy, few enough to cancel quickly.
QUEUED_PER_SLOT = 2


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise CligymError(
            "--executor ray needs Ray installed", "pip install 'cligym[ray]' on this machine and every node"
        ) from None
    return ray


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, max_retries: int = 3, unit_name: str = "cligym-unit") -> None:
        """Connect to the cluster at ``address`` (``auto``: the one ``ray start`` made on this machine, or
        ``$RAY_ADDRESS``); ``local`` starts a one-node cluster in this process with every core for Docker."""
        self.ray = _ray()
        self.max_retries = max_retries
        self.unit_name = unit_name
        self.session = current_session()
        if not self.ray.is_initialized():
            self._connect(address or "auto")
        self.docker_slots = int(self.ray.cluster_resources().get(DOCKER_RESOURCE, 0))
        if self.docker_slots < 1:
            raise CligymError(
                "no node of the Ray cluster offers the 'docker' resource, so no unit could ever be placed",
                "start worker nodes on Docker hosts with: ray start --address HEAD:6379 --resources '{\"docker\": 4}'",
            )
        self._run = self.ray.remote(_run_unit)
        self._clean = self.ray.remote(_remove_session_containers)

    def _connect(self, address: str) -> None:
        options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address == LOCAL_CLUSTER:
            options["resources"] = {DOCKER_RESOURCE: os.cpu_count() or 1}
        else:
            _check_reachable(address)
            options["address"] = address
        try:
            self.ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise CligymError(
                f"cannot connect to a Ray cluster at {address}: {str(exc).splitlines()[0]}",
                "start one with `ray start --head` (see docs/ray.md), pass --ray-address HOST:6379, "
                "or --ray-address local for a one-machine cluster",
            ) from None

    def _options(self, resources: UnitResources, node: str | None = None) -> dict[str, Any]:
        options: dict[str, Any] = {
            "num_cpus": resources.cpus,
            "max_retries": self.max_retries,
            "retry_exceptions": False,
            "name": self.unit_name,
        }
        if resources.memory_mb:
            options["memory"] = resources.memory_mb * 1024 * 1024
        if resources.docker:
            options["resources"] = {DOCKER_RESOURCE: 1}
        if node is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=node, soft=False)
        return options

    def _check_feasible(self, resources: UnitResources, node: str | None = None) -> None:
        """A unit no node can ever hold would wait forever: say so now, with what it asks for."""
        wanted = {"CPU": resources.cpus, "memory": (resources.memory_mb or 0) * 1024 * 1024}
        if resources.docker:
            wanted[DOCKER_RESOURCE] = 1
        for candidate in self.ray.nodes():
            totals = candidate.get("Resources", {})
            placeable = candidate.get("Alive") and (node is None or candidate["NodeID"] == node)
            if placeable and all(totals.get(name, 0) >= amount for name, amount in wanted.items() if amount):
                return
        asked = ", ".join(f"{name} {amount:g}" for name, amount in wanted.items() if amount)
        where = f"Ray node {node} cannot" if node else "no node of the Ray cluster can"
        raise CligymError(
            f"{where} hold a unit asking for {asked}",
            "start worker nodes with enough --num-cpus, --memory and --resources '{\"docker\": N}'",
        )

    def map(
        self, work: Callable[[Item], Result], items: list[Item], resources: UnitResources
    ) -> Iterator[Outcome[Item, Result]]:
        self._check_feasible(resources)
        task = self._run.options(**self._options(resources))
        pending = deque(items)
        window = max(1, self.docker_slots) * QUEUED_PER_SLOT
        in_flight: dict[Any, Item] = {}

        def refill() -> None:
            while pending and len(in_flight) < window:
                item = pending.popleft()
                in_flight[task.remote(self.session, work, (item,))] = item

        refill()
        yield from self._collect(in_flight, refill, lambda _ref: None)

    def map_in_lanes(
        self, work: Callable[[Item, Any], Result], items: list[Item], resources: UnitResources, lanes: list[Lane]
    ) -> Iterator[Outcome[Item, Result]]:
        """Each lane keeps ``slots`` units on its node; a unit is handed to whichever lane frees a slot first."""
        for lane in lanes:
            self._check_feasible(resources, lane.node)
        pending = deque(items)
        in_flight: dict[Any, Item] = {}
        lane_of: dict[Any, int] = {}
        tasks = [self._run.options(**self._options(resources, lane.node)) for lane in lanes]

        def submit(index: int) -> None:
            if pending:
                item = pending.popleft()
                ref = tasks[index].remote(self.session, work, (item, lanes[index].value))
                in_flight[ref] = item
                lane_of[ref] = index

        for index, lane in enumerate(lanes):
            for _ in range(lane.slots):
                submit(index)
        yield from self._collect(in_flight, lambda: None, lambda ref: submit(lane_of.pop(ref)))

    def _collect(
        self, in_flight: dict[Any, Item], refill: Callable[[], None], freed: Callable[[Any], None]
    ) -> Iterator[Outcome[Item, Result]]:
        try:
            while in_flight:
                done, _ = self.ray.wait(list(in_flight), num_returns=1, timeout=WAIT_S)
                for ref in done:
                    item = in_flight.pop(ref)
                    freed(ref)
                    refill()
                    yield (item, *self._result(ref))
        finally:
            # Ctrl-C, or the caller stopped reading: nothing of this map may keep running on the cluster.
            for ref in in_flight:
                with contextlib.suppress(Exception):
                    self.ray.cancel(ref, force=True)
            if in_flight:
                self.ray.wait(list(in_flight), num_returns=len(in_flight), timeout=10)

    def _result(self, ref: Any) -> tuple[Any, BaseException | None]:
        exceptions = self.ray.exceptions
        try:
            return self.ray.get(ref), None
        except exceptions.RayTaskError as error:
            cause = error.cause if isinstance(error.cause, BaseException) else error
            return None, cause
        except exceptions.TaskCancelledError:
            return None, CligymError("the unit was cancelled")
        except exceptions.RayError as error:  # worker or node died, out of memory, object lost: after retries
            return None, CligymError(
                f"the unit was lost {self.max_retries + 1} times: {type(error).__name__}",
                "see `ray status` and the worker logs under /tmp/ray/session_latest/logs on the nodes",
            )

    def _docker_nodes(self) -> list[str]:
        return [
            node["NodeID"]
            for node in self.ray.nodes()
            if node.get("Alive") and node.get("Resources", {}).get(DOCKER_RESOURCE, 0) > 0
        ]

    def remove_leftovers(self) -> int:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        refs = [
            self._clean.options(
                num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node, soft=False)
            ).remote(self.session)
            for node in self._docker_nodes()
        ]
        done, _ = self.ray.wait(refs, num_returns=len(refs), timeout=CLEANUP_TIMEOUT_S)
        removed = 0
        for ref in done:
            with contextlib.suppress(Exception):
                removed += int(self.ray.get(ref))
        return removed

    def interrupted(self) -> int:
        return self.remove_leftovers()

    def close(self) -> None:
        if self.ray.is_initialized():
            self.ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail in seconds on a wrong HOST:PORT (``ray.init`` would keep retrying for minutes)."""
    host, separator, port = address.removeprefix("ray://").rpartition(":")
    if not separator or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise CligymError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc})",
            "start one with `ray start --head --port 6379` (see docs/ray.md), or fix --ray-address",
        ) from None


def _run_unit(session: str, work: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """What a Ray worker runs: the unit, its containers labelled with the coordinator's session."""
    from cligym.labels import adopt_session

    adopt_session(session)
    return work(*args)


def _remove_session_containers(session: str) -> int:
    from cligym.labels import SESSION
    from cligym.sandbox import remove_labelled_containers

    return remove_labelled_containers(f"{SESSION}={session}")
