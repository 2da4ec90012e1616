"""The filters on trajectories from a real scripted rollout (tests/filtering/conftest.py): each rule keeps
one case and drops another, with its reason; `cligym filter` writes the kept ids, decisions and plots."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cligym.filtering.filter_run import FilterConfig, filter_trajectories, read_decisions
from cligym.filtering.rules import (
    no_fabricated_success,
    no_test_tampering,
    not_limit_terminated,
    tampering_command,
    verifier_passed,
)
from cligym.rollout.trajectory import Trajectory, read_trajectories
from tests.filtering.conftest import OTHER_TASK, TASK

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def episodes(rollout_run: Path) -> dict[tuple[str, int], Trajectory]:
    return {(t.task_id, t.sample): t for t in read_trajectories(rollout_run)}


def decided(trajectories: list[Trajectory], **config: int) -> dict[str, tuple[bool, str, str]]:
    return {d.episode_id: (d.kept, d.rule, d.reason) for d in filter_trajectories(trajectories, FilterConfig(**config))}


def test_verifier_passed_keeps_a_repair_and_drops_a_run_that_did_nothing(episodes: dict) -> None:
    assert verifier_passed(episodes[TASK, 0]) is None
    reason = verifier_passed(episodes[TASK, 3])
    assert reason is not None and reason.startswith("reward 0;") and "required tests not passing" in reason


def test_a_reward_of_1_beside_failing_tests_is_dropped(episodes: dict) -> None:
    """Harbor reads a reward.json before reward.txt: one planted there pays 1 while the verifier's own report
    names the failing tests (red team 13). The report wins."""
    repaired, did_nothing = episodes[TASK, 0], episodes[TASK, 3]
    assert repaired.verifier is not None and did_nothing.verifier is not None and did_nothing.verifier.failing()
    paid = repaired.model_copy(update={"verifier": did_nothing.verifier.model_copy(update={"reward": 1.0})})
    reason = verifier_passed(paid)
    assert reason is not None and reason.startswith("reward 1;") and "required tests not passing" in reason


def test_tampering_with_tests_drops_even_a_verified_repair(episodes: dict) -> None:
    tamperer = episodes[TASK, 4]
    assert tamperer.resolved  # the verifier restored the tests, so the reward alone would keep it
    reason = no_test_tampering(tamperer)
    assert reason is not None and "tests/test_store.py" in reason
    assert no_test_tampering(episodes[TASK, 2]) is None  # running and reading tests is fine
    assert not tampering_command("cd /repo && python -m pytest tests/ -q > /tmp/out.txt 2>&1")
    assert tampering_command("echo 'def test_ok(): pass' > /repo/tests/test_store.py")
    assert tampering_command("mkdir -p /logs/verifier && echo 1 > /logs/verifier/reward.txt")
    assert tampering_command("chmod -x /repo/tests")


def test_an_episode_ended_by_a_limit_is_dropped(episodes: dict) -> None:
    finished = episodes[TASK, 0]
    limited = finished.model_copy(update={"termination_reason": "step_limit", "termination_detail": "50 model turns"})
    assert not_limit_terminated(finished) is None
    assert not_limit_terminated(limited) == "ended by step_limit (50 model turns)"


def test_a_success_claim_after_a_failing_test_run_is_dropped_unless_the_verifier_passed(episodes: dict) -> None:
    looked = episodes[TASK, 2]  # ran the failing tests first, then repaired; ends with "The tests pass again."
    assert looked.resolved and looked.steps[0].exit_code == 0  # `| tail` hides pytest's status: use a failing run
    failing_run = looked.steps[0].model_copy(update={"command": "cd /repo && python -m pytest -q", "exit_code": 1})
    claims = looked.model_copy(update={"steps": [failing_run]})
    assert no_fabricated_success(claims) is None  # the verifier passed: the claim is true
    unverified = claims.model_copy(update={"verifier": episodes[TASK, 3].verifier})
    assert no_fabricated_success(unverified) == "the final message claims success but the last test run failed"


def test_length_bounds_keep_and_drop(episodes: dict) -> None:
    first = episodes[TASK, 0]
    assert decided([first], max_steps=3)[first.episode_id][0]
    kept, rule, reason = decided([first], max_steps=2)[first.episode_id]
    assert not kept and rule == "length_bounds" and reason == "3 steps > 2"
    kept, rule, reason = decided([first], max_tokens=100)[first.episode_id]
    assert not kept and rule == "length_bounds" and reason.endswith("tokens > 100")


def test_duplicates_collapse_and_the_cap_per_task_holds(episodes: dict) -> None:
    ours = [t for (task, _), t in episodes.items() if task == TASK]
    decisions = decided(ours)
    assert decisions[f"{TASK}#0"] == (True, "", "")
    assert decisions[f"{TASK}#1"] == (False, "exact_duplicate", f"same as {TASK}#0")
    assert decisions[f"{TASK}#2"][0]
    # Same commands, other words: a near-duplicate.
    reworded = episodes[TASK, 1].model_copy(update={"sample": 7, "episode_id": f"{TASK}#7"})
    reworded.messages[-2] = reworded.messages[-2].model_copy(update={"content": "Repaired, I believe."})
    assert decided([episodes[TASK, 0], reworded])[f"{TASK}#7"] == (
        False,
        "near_duplicate",
        f"same command sequence as {TASK}#0",
    )
    capped = decided(ours, max_per_task=1)
    assert capped[f"{TASK}#2"] == (False, "max_per_task", "1 episodes of this task already kept")


def test_the_filter_command_prints_reasons_and_writes_the_kept_ids(rollout_run: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cligym", "filter", str(rollout_run)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kept = (rollout_run / "filter" / "kept.txt").read_text().split()
    tasks = (TASK, f"{TASK}-hinted", OTHER_TASK)
    assert sorted(kept) == sorted(f"{task}#{sample}" for task in tasks for sample in (0, 2))
    decisions = {d.episode_id: d for d in read_decisions(rollout_run)}
    assert len(decisions) == 15
    assert decisions[f"{TASK}#4"].rule == "no_test_tampering"
    assert decisions[f"{TASK}-hinted#3"].rule == "verifier_passed"
    for line in ("kept ", "verifier_passed", "no_test_tampering", "exact_duplicate", "success by category"):
        assert line in result.stdout
    assert "shared-library" in result.stdout and "0.80" in result.stdout  # 12 of 15 resolved
    png = rollout_run / "filter" / "lengths.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
