"""Judge an episode as Harbor would, and more strictly: the task's own ``tests/`` copied in only now (anything
the agent left under /tests or /logs/verifier is removed first), ``tests/test.sh`` run on the file system the
agent left, the reward read from ``/logs/verifier/reward.txt`` and each required test's status from the
pytest report. ``verify_episode`` runs it on a snapshot of the agent's container (rollout/snapshot.py),
with the harness files hashed there first by a program the agent could not touch."""

from __future__ import annotations

import tarfile
import time

from cligym.errors import CligymError, SandboxUnavailableError
from cligym.generation.export.harbor import VERIFIER_LOGS
from cligym.generation.export.shell_startup import EMPTY_STARTUP
from cligym.generation.export.task_files import HARNESS_MANIFEST, STOP_LEFTOVER_PROCESSES
from cligym.generation.gold.harness import VERIFIER_TESTS_DIR
from cligym.generation.gold.verdict import harness_differences, outcomes_of, required_statuses, reward_of
from cligym.rollout.changes import FileChanges, read_manifest
from cligym.rollout.snapshot import UNREADABLE, content_differences, verifier_snapshot
from cligym.rollout.task_dir import RolloutTask
from cligym.rollout.trajectory import VerifierResult
from cligym.sandbox import Sandbox
from cligym.settings import SandboxSettings

OUTPUT_TAIL_CHARS = 4000
UNREADABLE_TIMEOUT = 120.0


def verify_episode(
    box: Sandbox, task: RolloutTask, timeout: float, changes: FileChanges | None, settings: SandboxSettings
) -> tuple[VerifierResult, FileChanges | None]:
    """The verdict on what the agent left in ``box``, and ``changes`` with the harness files the trusted
    hasher found unlike gold added. Nothing of the agent's runs before the digests are taken."""
    manifest = read_manifest(task.tests_dir / HARNESS_MANIFEST)
    with verifier_snapshot(box, settings) as (fresh, hasher):
        if hasher is not None and manifest is not None and changes is not None:
            found = content_differences(fresh, hasher, manifest)
            changes = changes.model_copy(update={"harness": list(dict.fromkeys([*changes.harness, *found]))})
            if any(problem.endswith(UNREADABLE) for problem in found):
                # Reward 0 is decided; a FIFO at a harness path would hold the in-container check until the
                # verifier's own timeout, so it gets a short one (the tests' statuses stay for the record).
                timeout = min(timeout, UNREADABLE_TIMEOUT)
        result = run_verifier(fresh, task, timeout)
    return with_outside_view(result, changes), changes


def run_verifier(box: Sandbox, task: RolloutTask, timeout: float) -> VerifierResult:
    """Run the verifier in ``box``; a verifier that cannot run at all gives reward 0, never an exception
    (unless the container itself is gone)."""
    started = time.monotonic()
    # Nothing the agent left running may touch the verifier's files once they are copied in.
    # No shell of the verifier's sources the image's BASH_ENV file, which the agent could have written code into:
    # test.sh applies the lines of it a break writes (generation/export/shell_startup.py).
    box.exec(STOP_LEFTOVER_PROCESSES, timeout=60, environment=EMPTY_STARTUP)
    box.exec(f"rm -rf {VERIFIER_TESTS_DIR} {VERIFIER_LOGS}", timeout=60, shell="/bin/sh", environment=EMPTY_STARTUP)
    try:
        box.copy_dir(task.tests_dir, VERIFIER_TESTS_DIR)
    except OSError as exc:
        raise SandboxUnavailableError(f"cannot copy the verifier into {box.name}: {exc}") from None
    result = box.exec(
        f"bash {VERIFIER_TESTS_DIR}/test.sh", timeout=timeout, output_cap_bytes=200_000, environment=EMPTY_STARTUP
    )
    reward = reward_of(_optional_text(box, f"{VERIFIER_LOGS}/reward.txt")) or 0.0
    required = [*task.fail_to_pass, *task.pass_to_pass]
    statuses = required_statuses(outcomes_of(_optional_text(box, f"{VERIFIER_LOGS}/pytest-report.json")), required)
    output = _optional_text(box, f"{VERIFIER_LOGS}/pytest-output.txt") or result.stdout + result.stderr
    return VerifierResult(
        reward=reward,
        tests=statuses,
        fail_to_pass=list(task.fail_to_pass),
        pass_to_pass=list(task.pass_to_pass),
        exit_code=result.exit_code,
        seconds=round(time.monotonic() - started, 2),
        output_tail=output[-OUTPUT_TAIL_CHARS:],
        harness_modified=harness_differences(_optional_text(box, f"{VERIFIER_LOGS}/harness.txt")),
    )


def _optional_text(box: Sandbox, path: str) -> str:
    try:
        return box.read_file(path).decode(errors="replace")
    except (OSError, CligymError, tarfile.TarError):  # gone, unreadable, or rewritten while read
        return ""


def with_outside_view(result: VerifierResult, changes: FileChanges | None) -> VerifierResult:
    """The verdict once the harness files the episode changed, read from outside the container, are
    counted: an agent that fooled the in-container check (a lying interpreter binary) still earns 0."""
    if changes is None or not changes.harness:
        return result
    named = list(dict.fromkeys([*result.harness_modified, *changes.harness]))
    return result.model_copy(update={"reward": 0.0, "harness_modified": named})
