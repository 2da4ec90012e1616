"""Parametrized Docker cases run two at a time: a module fixture submits every case to a small thread pool
when the first of them is reached, and each test waits for its own case and asserts on what it returned. On
this kind of machine a case spends much of its time waiting on the daemon (a build, a container start), so a
second one in flight uses the core the first leaves idle. Each case still passes or fails as its own test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

Result = TypeVar("Result")

WORKERS = 2


@contextmanager
def running_ahead(
    run: Callable[[str], Result], names: list[str], workers: int = WORKERS
) -> Iterator[dict[str, Future[Result]]]:
    """``run(name)`` for every name, in that order, ``workers`` at a time; yields name -> its future. Cases not
    started when the module ends (a test stopped the session) are cancelled."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="case")
    try:
        yield {name: pool.submit(run, name) for name in names}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
