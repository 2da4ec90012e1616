"""Resource limits from what the probe measured: a limit that stops the tests holding the most at once, and
no candidate where every test holds about what pytest does."""

from __future__ import annotations

import random

from cligym.generation.gold.footprint import PerTestProbe, TestResources
from cligym.generation.gold.record import Probe
from cligym.generation.operators import OPERATORS
from cligym.generation.operators.measured_limits import (
    DEPTH_MARGIN,
    FD_MARGIN,
    PYTEST_STARTUP_DEPTH,
    address_space_limit,
    open_files_limit,
    recursion_limit,
)
from tests.generation.test_operators import TESTS, gold_with

MB = 1024


def measured(session: TestResources, *per_test: TestResources) -> Probe:
    resources = {"": session, **dict(zip(TESTS, per_test, strict=True))}
    return Probe(per_test=PerTestProbe(resources=resources))


def test_the_open_files_limit_stops_the_tests_that_held_more_than_pytest() -> None:
    session = TestResources(fds=11, vm_kb=60 * MB)
    gold = gold_with(measured(session, TestResources(fds=12), TestResources(fds=40), TestResources(fds=15)))
    limit = open_files_limit(gold)
    assert limit is not None and limit.value == 11 + FD_MARGIN
    assert limit.failing == {TESTS[1]}
    operator = OPERATORS["open-files-limit-in-startup-hook"]
    (target,) = operator.targets(gold)
    assert operator.expected_failures(gold, target) == {TESTS[1]}
    (step,) = operator.break_steps(target, random.Random(0))
    assert f"RLIMIT_NOFILE, ({11 + FD_MARGIN}, {11 + FD_MARGIN})" in step.argument


def test_no_open_files_candidate_when_every_test_holds_what_pytest_does() -> None:
    session = TestResources(fds=11)
    quiet = gold_with(measured(session, TestResources(fds=12), TestResources(fds=13), TestResources(fds=11)))
    assert open_files_limit(quiet) is None and OPERATORS["open-files-limit-in-startup-hook"].targets(quiet) == []
    every = gold_with(measured(session, *[TestResources(fds=30)] * 3))
    assert open_files_limit(every) is None  # it would fail every test: nothing to diagnose
    assert open_files_limit(gold_with(Probe())) is None  # nothing measured (not a pytest suite)


def test_the_address_space_limit_falls_between_the_session_and_the_heavy_tests() -> None:
    session = TestResources(fds=11, vm_kb=100 * MB)
    gold = gold_with(
        measured(
            session,
            TestResources(vm_kb=120 * MB),  # thread stacks and arenas: not heavy
            TestResources(vm_kb=900 * MB),
            TestResources(vm_kb=400 * MB),
        )
    )
    limit = address_space_limit(gold)
    assert limit is not None and limit.value == (100 + 150) * MB
    assert limit.failing == {TESTS[1], TESTS[2]}
    for name in ("address-space-limit-in-startup-hook", "address-space-limit-in-bash-env"):
        operator = OPERATORS[name]
        (target,) = operator.targets(gold)
        assert operator.expected_failures(gold, target) == {TESTS[1], TESTS[2]}
    (_, bash_env) = OPERATORS["address-space-limit-in-bash-env"].break_steps(
        OPERATORS["address-space-limit-in-bash-env"].targets(gold)[0], random.Random(0)
    )
    assert bash_env.argument.startswith("BASH_ENV")
    light = gold_with(measured(session, *[TestResources(vm_kb=150 * MB)] * 3))
    assert address_space_limit(light) is None


def test_the_recursion_limit_falls_in_the_widest_gap_between_the_tests_deepest_stacks() -> None:
    session = TestResources(fds=11, depth=60)
    # Two tests as deep as pytest makes them, one parser test recursing 250 frames further.
    gold = gold_with(measured(session, TestResources(depth=48), TestResources(depth=300), TestResources(depth=52)))
    limit = recursion_limit(gold)
    floor = max(2 * 60, PYTEST_STARTUP_DEPTH) + DEPTH_MARGIN  # pytest's own start-up and collection
    assert limit is not None and limit.value == (floor + 300) // 2
    assert limit.failing == {TESTS[1]}
    operator = OPERATORS["recursion-limit-in-startup-hook"]
    (target,) = operator.targets(gold)
    assert operator.expected_failures(gold, target) == {TESTS[1]}
    (step,) = operator.break_steps(target, random.Random(0))
    assert f"sys.setrecursionlimit({limit.value})" in step.argument


def test_no_recursion_limit_without_a_wide_gap_or_a_measurement() -> None:
    session = TestResources(depth=60)
    shallow = gold_with(measured(session, TestResources(depth=50), TestResources(depth=90), TestResources(depth=160)))
    assert recursion_limit(shallow) is None  # 160 leaves no room above pytest's own needs to tell the tests apart
    unmeasured = gold_with(measured(session, TestResources(depth=50), TestResources(depth=0), TestResources(depth=300)))
    assert recursion_limit(unmeasured) is None  # a test that replaced the profile function may recurse anywhere
    assert recursion_limit(gold_with(measured(TestResources(), *[TestResources(depth=200)] * 3))) is None
