"""A Harbor job read from saved files (tests/fixtures/harbor-job: a real job of Harbor's oracle, nop and
Terminus 2 agents on the demo's exported sqlite task, its model a scripted server): the verdict, the JUnit
report beside it and the conversation come out the same without Docker or Harbor installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cligym.generation.gold.junit import parse_junit
from cligym.generation.gold.verdict import outcomes_of, required_statuses
from cligym.rollout.harbor.conversation import conversation_of
from cligym.rollout.harbor.discovery import find_trial_dirs
from cligym.rollout.harbor.files import AtifTrajectory, TrialResult, read_model
from cligym.rollout.harbor.importer import import_harbor_jobs
from cligym.rollout.harbor.verdict import verifier_result
from cligym.rollout.task_dir import RolloutTask

JOB = Path(__file__).resolve().parents[2] / "fixtures" / "harbor-job"
TRIALS = JOB / "import-test"
EXPECTED = json.loads((JOB / "expected.json").read_text())
TASK = RolloutTask(
    task_id="inventory-sqlite-soname",
    path=JOB / "task-not-saved",
    instruction="",
    repo="inventory",
    category="shared_libraries",
    verifier_timeout=600.0,
    fail_to_pass=tuple(EXPECTED["fail_to_pass"]),
    pass_to_pass=tuple(EXPECTED["pass_to_pass"]),
)


def test_the_jobs_trials_are_found() -> None:
    assert sorted(path.name for path in find_trial_dirs([JOB])) == ["nop", "oracle", "terminus-2"]


@pytest.mark.parametrize(("agent", "reward"), [("oracle", 1.0), ("terminus-2", 1.0), ("nop", 0.0)])
def test_each_trials_verdict(agent: str, reward: float) -> None:
    trial = TRIALS / agent
    verdict = verifier_result(trial, read_model(trial / "result.json", TrialResult), TASK)
    assert verdict.reward == reward and verdict.harness_modified == []
    statuses = verdict.tests
    assert set(statuses) == set(EXPECTED["fail_to_pass"]) | set(EXPECTED["pass_to_pass"])
    assert {statuses[test] for test in EXPECTED["pass_to_pass"]} == {"passed"}
    broken = {statuses[test] for test in EXPECTED["fail_to_pass"]}
    # Left broken, a module fails to import: its tests are missing from the run, others fail in it.
    assert broken == {"passed"} if reward else broken <= {"failed", "missing"} and "passed" not in broken
    assert verdict.seconds > 0 and verdict.output_tail


@pytest.mark.parametrize("agent", ["oracle", "nop"])
def test_the_junit_report_agrees_with_ours(agent: str) -> None:
    verifier = TRIALS / agent / "verifier"
    required = [*EXPECTED["fail_to_pass"], *EXPECTED["pass_to_pass"]]
    junit = {outcome.test_id: outcome.status for outcome in parse_junit((verifier / "junit.xml").read_bytes())}
    ours = outcomes_of((verifier / "pytest-report.json").read_bytes())
    assert required_statuses(junit, required) == required_statuses(ours, required)


def test_the_terminus_conversation_alternates_calls_and_results() -> None:
    atif = read_model(TRIALS / "terminus-2" / "agent" / "trajectory.json", AtifTrajectory)
    conversation = conversation_of(atif)
    roles = [message.role for message in conversation.messages]
    assert roles[0] == "user" and roles.count("assistant") == conversation.turns
    calls = [call.id for message in conversation.messages for call in message.tool_calls]
    answered = [message.tool_call_id for message in conversation.messages if message.role == "tool"]
    assert calls and answered == calls
    assert [step.tool_call_id for step in conversation.steps if step.tool_call_id] == calls


def test_importing_the_saved_job_keeps_rewards_when_its_task_directory_is_gone(tmp_path: Path) -> None:
    summary = import_harbor_jobs([JOB], tmp_path)
    assert sorted((t.agent, t.reward) for t in summary.imported) == [
        ("nop", 0.0),
        ("oracle", 1.0),
        ("terminus-2", 1.0),
    ]
    assert len(summary.warnings) == 1 and "cannot be read" in summary.warnings[0]
    again = import_harbor_jobs([JOB], tmp_path)
    assert again.imported == [] and len(again.skipped_existing) == 3
