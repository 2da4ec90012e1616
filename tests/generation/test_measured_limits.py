"""Resource limits from what the probe measured: a limit that stops the tests holding the most at once, and
no candidate where every test holds about what pytest does."""

from __future__ import annotations

import random

from cligym.generation.gold.footprint import PerTestProbe, TestResources
from cligym.generation.gold.record import Probe
from cligym.generation.operators import OPERATORS
from cligym.generation.operators.measured_limits import FD_MARGIN, address_space_limit, open_files_limit
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
