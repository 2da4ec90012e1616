"""Resource limits set from what the probe measured: tight enough to stop the tests that hold the most at
once (file descriptors, address space, call-stack depth), loose enough for pytest itself and the tests that
hold little.

A fixed limit (48 descriptors, 512 MB) stops nothing in a small suite, so those candidates broke nothing;
one derived from the suite's own peaks fails a predictable subset, and a suite whose tests all hold about as
much as pytest does gets no candidate at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from cligym.generation.gold.footprint import TestResources
from cligym.generation.gold.record import GoldRecord

# Descriptors beyond the session's peak that pytest and the verifier take (its report files, a log) and a
# run without the probe may differ by.
FD_MARGIN = 4
# Growth of the address space over the session's that makes a test heavy: thread stacks and allocator arenas
# move it by tens of MB between runs.
VM_MIN_GROWTH_KB = 128 * 1024


# Frames between the deepest a light test went and the shallowest a deep test went, for a recursion limit to
# sit between them: the interpreter also counts C-level calls the profile function does not see, and runs
# differ by a few frames (``python -m pytest`` or the console script, the plugins loaded).
DEPTH_MIN_GAP = 24
# Frames above pytest's own deepest point that the limit keeps free for reporting a failure.
DEPTH_MARGIN = 16
# pytest's own start-up (its plugins and the modules they import, nested) runs before the probe can count
# frames and needs about 110-120 on Python 3.11 and pytest 8-9; the interpreter's counter also takes C-level
# calls, so the collection depth the probe saw counts double.
PYTEST_STARTUP_DEPTH = 128


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


def recursion_limit(gold: GoldRecord) -> MeasuredLimit | None:
    """``sys.setrecursionlimit`` in the middle of the widest gap between the tests' deepest call stacks (at
    least ``DEPTH_MIN_GAP`` frames wide, above pytest's own depth): the tests past it fail with RecursionError;
    None when the tests' depths leave no such gap (a suite that does not recurse)."""
    measured = _measured(gold)
    if measured is None or measured[0].depth <= 0:
        return None
    session, tests = measured
    floor = max(2 * session.depth, PYTEST_STARTUP_DEPTH) + DEPTH_MARGIN
    # Tests no deeper than pytest's own margin count as the floor: the limit never goes below it.
    points = [floor, *sorted({used.depth for used in tests.values() if used.depth > floor})]
    gaps = [(high - low, low, high) for low, high in pairwise(points)]
    wide = [gap for gap in gaps if gap[0] >= DEPTH_MIN_GAP]
    if not wide:
        return None
    _, low, high = max(wide)
    limit = (low + high) // 2
    failing = frozenset(test for test, used in tests.items() if used.depth > limit)
    unmeasured = any(used.depth <= 0 for used in tests.values())
    return MeasuredLimit(limit, failing) if failing and len(failing) < len(tests) and not unmeasured else None
