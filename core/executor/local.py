"""The local executor: units on threads of this process, containers on this machine's Docker daemon."""

from __future__ import annotations

import itertools
import queue
from collections.abc import Callable, Iterator
from typing import Any

from cligym.executor.units import Item, Lane, Outcome, Result, UnitResources
from cligym.parallel import map_in_threads
from cligym.sandbox import remove_live_sandboxes


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)

    def map(
        self, work: Callable[[Item], Result], items: list[Item], resources: UnitResources
    ) -> Iterator[Outcome[Item, Result]]:
        return map_in_threads(work, items, self.workers)

    def map_in_lanes(
        self, work: Callable[[Item, Any], Result], items: list[Item], resources: UnitResources, lanes: list[Lane]
    ) -> Iterator[Outcome[Item, Result]]:
        """One thread per slot of every lane, each taking the next item and running it with its lane's value."""
        values = list(itertools.chain.from_iterable([lane.value] * lane.slots for lane in lanes))
        free: queue.Queue[Any] = queue.Queue()
        for value in values:
            free.put(value)

        def run(item: Item) -> Result:
            value = free.get_nowait()  # one thread per value, so a thread always finds its own
            try:
                return work(item, value)
            finally:
                free.put(value)

        return map_in_threads(run, items, len(values))

    def remove_leftovers(self) -> int:
        return 0  # units on threads remove their own containers, even when they fail

    def interrupted(self) -> int:
        return remove_live_sandboxes()

    def close(self) -> None:
        pass
