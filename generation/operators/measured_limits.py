"""Resource limits set from what the probe measured: tight enough to stop the tests that hold the most at
once (file descriptors, address space), loose enough for pytest itself and the tests that hold little.

A fixed limit (48 descriptors, 512 MB) stops nothing in a small suite, so those candidates broke nothing;
one derived from the suite's own peaks fails a predictable subset, and a suite whose tests all hold about as
much as pytest does gets no candidate at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from cligym.generation.gold.footprint import TestResources
from cligym.generation.gold.record import GoldRecord

# Descriptors beyond the session's peak that pytest and the verifier take (its report files, a log) and a
# run without the probe may differ by.
FD_MARGIN = 4
# Growth of the address space over the session's that makes a test heavy: thread stacks and allocator arenas
# move it by tens of MB between runs.
VM_MIN_GROWTH_KB = 128 * 1024


@dataclass(frozen=True)
class MeasuredLimit:
    value: int  # descriptors, or kB of address space
    failing: frozenset[str]


def _measured(gold: GoldRecord) -> tuple[TestResources, dict[str, TestResources]] | None:
    per_test = gold.probe.per_test
    if per_test is None or "" not in per_test.resources:
        return None
    gold_tests = set(gold.gold_tests)
    tests = {test: used for test, used in per_test.resources.items() if test in gold_tests}
    return per_test.resources[""], tests


def open_files_limit(gold: GoldRecord) -> MeasuredLimit | None:
    """RLIMIT_NOFILE a little above what pytest held before the first test: the tests that had more open
    at once fail; None when no test did (or all did)."""
    measured = _measured(gold)
    if measured is None:
        return None
    session, tests = measured
    limit = session.fds + FD_MARGIN
    failing = frozenset(test for test, used in tests.items() if used.fds > limit)
    return MeasuredLimit(limit, failing) if failing and len(failing) < len(tests) else None


def address_space_limit(gold: GoldRecord) -> MeasuredLimit | None:
    """RLIMIT_AS halfway between the session's address space and the smallest peak of a heavy test (one that
    grew it by ``VM_MIN_GROWTH_KB`` or more): the tests above the limit fail; None when no test is heavy."""
    measured = _measured(gold)
    if measured is None:
        return None
    session, tests = measured
    growth = [used.vm_kb - session.vm_kb for used in tests.values() if used.vm_kb - session.vm_kb >= VM_MIN_GROWTH_KB]
    if not growth or session.vm_kb <= 0:
        return None
    limit = (session.vm_kb + min(growth) // 2) // 1024 * 1024  # whole MB
    failing = frozenset(test for test, used in tests.items() if used.vm_kb > limit)
    return MeasuredLimit(limit, failing) if failing and len(failing) < len(tests) else None
