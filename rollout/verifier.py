"""Judge an episode exactly as Harbor would: the task's own ``tests/`` copied in only now (anything the agent
left under /tests or /logs/verifier is removed first), ``tests/test.sh`` run in the agent's container, the
reward read from ``/logs/verifier/reward.txt`` and each required test's status from the pytest report."""

from __future__ import annotations

import contextlib
import time

from cligym.errors import CligymError, SandboxUnavailableError
from cligym.generation.gold.harness import HARNESS_PREFIX
from cligym.generation.gold.junit import parse_pytest_report
from cligym.rollout.changes import FileChanges
from cligym.rollout.task_dir import RolloutTask
from cligym.rollout.trajectory import TestStatus, VerifierResult
from cligym.sandbox import Sandbox

TESTS_PATH = "/tests"
VERIFIER_LOGS = "/logs/verifier"
OUTPUT_TAIL_CHARS = 4000


def run_verifier(box: Sandbox, task: RolloutTask, timeout: float) -> VerifierResult:
    """Run the verifier in ``box``; a verifier that cannot run at all gives reward 0, never an exception
    (unless the container itself is gone)."""
    started = time.monotonic()
    box.exec(f"rm -rf {TESTS_PATH} {VERIFIER_LOGS}", timeout=60, shell="/bin/sh")
    try:
        box.copy_dir(task.tests_dir, TESTS_PATH)
    except OSError as exc:
        raise SandboxUnavailableError(f"cannot copy the verifier into {box.name}: {exc}") from None
    result = box.exec(f"bash {TESTS_PATH}/test.sh", timeout=timeout, output_cap_bytes=200_000)
    reward = _reward(box)
    statuses = _statuses(box, task)
    output = ""
    with contextlib.suppress(OSError):
        output = box.read_file(f"{VERIFIER_LOGS}/pytest-output.txt").decode(errors="replace")
    if not output:
        output = result.stdout + result.stderr
    harness = ""
    with contextlib.suppress(OSError):
        harness = box.read_file(f"{VERIFIER_LOGS}/harness.txt").decode(errors="replace")
    return VerifierResult(
        reward=reward,
        tests=statuses,
        fail_to_pass=list(task.fail_to_pass),
        pass_to_pass=list(task.pass_to_pass),
        exit_code=result.exit_code,
        seconds=round(time.monotonic() - started, 2),
        output_tail=output[-OUTPUT_TAIL_CHARS:],
        harness_modified=[
            line.removeprefix(HARNESS_PREFIX) for line in harness.splitlines() if line.startswith(HARNESS_PREFIX)
        ],
    )


def with_outside_view(result: VerifierResult, changes: FileChanges | None) -> VerifierResult:
    """The verdict once the harness files the episode changed, read from outside the container, are
    counted: an agent that fooled the in-container check (a lying interpreter binary) still earns 0."""
    if changes is None or not changes.harness:
        return result
    named = list(dict.fromkeys([*result.harness_modified, *changes.harness]))
    return result.model_copy(update={"reward": 0.0, "harness_modified": named})


def _reward(box: Sandbox) -> float:
    try:
        text = box.read_file(f"{VERIFIER_LOGS}/reward.txt").decode(errors="replace").strip()
    except OSError:
        return 0.0
    try:
        return float(text.splitlines()[-1]) if text else 0.0
    except ValueError:
        return 0.0


def _statuses(box: Sandbox, task: RolloutTask) -> dict[str, TestStatus]:
    required = [*task.fail_to_pass, *task.pass_to_pass]
    outcomes: dict[str, str] = {}
    with contextlib.suppress(OSError, CligymError):
        report = box.read_file(f"{VERIFIER_LOGS}/pytest-report.json")
        outcomes = {outcome.test_id: outcome.status for outcome in parse_pytest_report(report)}
    statuses: dict[str, TestStatus] = {}
    for test in required:
        status = outcomes.get(test)
        statuses[test] = "missing" if status is None else "passed" if status == "passed" else "failed"
    return statuses
