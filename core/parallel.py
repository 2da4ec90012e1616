"""Run units of work on a few threads and get results as they finish, without hanging on Ctrl-C.

Worker threads are daemons: after Ctrl-C the main thread removes this process's containers
(``remove_live_sandboxes``) and exits, instead of waiting for every unit to finish as a
``ThreadPoolExecutor`` would.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_in_threads(
    work: Callable[[Item], Result], items: Sequence[Item], workers: int
) -> Iterator[tuple[Item, Result | None, BaseException | None]]:
    """Yield ``(item, result, None)`` or ``(item, None, error)`` for each item, in completion order."""
    pending: queue.Queue[Item] = queue.Queue()
    for item in items:
        pending.put(item)
    finished: queue.Queue[tuple[Item, Result | None, BaseException | None]] = queue.Queue()

    def worker() -> None:
        while True:
            try:
                item = pending.get_nowait()
            except queue.Empty:
                return
            try:
                finished.put((item, work(item), None))
            except BaseException as exc:  # reported to the caller, who decides what is fatal
                finished.put((item, None, exc))

    for index in range(max(1, min(workers, len(items)))):
        threading.Thread(target=worker, name=f"cligym-worker-{index}", daemon=True).start()
    for _ in range(len(items)):
        while True:
            try:
                yield finished.get(timeout=0.5)  # a timeout keeps the wait interruptible by Ctrl-C
                break
            except queue.Empty:
                continue
