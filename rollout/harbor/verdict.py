"""A trial's verdict: the reward Harbor recorded (or the verifier's reward.txt), each required test's status
from our pytest report, and the harness differences the verifier named."""

from __future__ import annotations

from pathlib import Path

from cligym.generation.gold.verdict import harness_differences, outcomes_of, required_statuses, reward_of
from cligym.rollout.harbor.files import RESULT_FILE, VERIFIER_DIR, TrialResult, Unreadable
from cligym.rollout.task_dir import RolloutTask
from cligym.rollout.trajectory import VerifierResult

OUTPUT_TAIL_CHARS = 4000


def verifier_result(trial_dir: Path, result: TrialResult, task: RolloutTask | None) -> VerifierResult:
    verifier_dir = trial_dir / VERIFIER_DIR
    reward = _recorded_reward(result)
    if reward is None:
        reward = reward_of(_optional_text(verifier_dir / "reward.txt"))
    if reward is None:
        why = f"Harbor recorded {result.exception_info.exception_type}" if result.exception_info else "no reward found"
        raise Unreadable(f"no verifier reward in {RESULT_FILE} or {VERIFIER_DIR}/reward.txt ({why})")
    fail_to_pass = list(task.fail_to_pass) if task else []
    pass_to_pass = list(task.pass_to_pass) if task else []
    outcomes = outcomes_of(_optional_text(verifier_dir / "pytest-report.json"))
    timing = result.verifier
    seconds = 0.0
    if timing is not None and timing.started_at and timing.finished_at:
        seconds = round((timing.finished_at - timing.started_at).total_seconds(), 2)
    output = _optional_text(verifier_dir / "pytest-output.txt") or _optional_text(verifier_dir / "test-stdout.txt")
    return VerifierResult(
        reward=reward,
        tests=required_statuses(outcomes, [*fail_to_pass, *pass_to_pass]),
        fail_to_pass=fail_to_pass,
        pass_to_pass=pass_to_pass,
        seconds=seconds,
        output_tail=output[-OUTPUT_TAIL_CHARS:],
        harness_modified=harness_differences(_optional_text(verifier_dir / "harness.txt")),
    )


def _recorded_reward(result: TrialResult) -> float | None:
    verdicts = [result.verifier_result] + [step.verifier_result for step in reversed(result.step_results or [])]
    for verdict in verdicts:
        rewards = verdict.rewards if verdict is not None else None
        if not rewards:
            continue
        # Harbor names the reward.txt value "reward"; a reward.json with one entry is that entry.
        if "reward" in rewards:
            return float(rewards["reward"])
        if len(rewards) == 1:
            return float(next(iter(rewards.values())))
    return None


def _optional_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
