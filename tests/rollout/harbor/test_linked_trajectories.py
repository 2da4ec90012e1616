"""Harbor trials whose ATIF files carry what Harbor's agents write around a model's own turns: steps copied from
an earlier trajectory (``is_copied_context``), deterministic agent steps (``llm_call_count == 0``),
continuation files (``continued_trajectory_ref``) and subagent trajectories (``subagent_trajectory_ref``,
embedded or in a file beside ``trajectory.json``). The trials are written by hand here in the shapes
Terminus 2 and Codex write them, and checked against Harbor's own pydantic models when Harbor is installed."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cligym.filtering.chat import chat_record
from cligym.filtering.rules import no_test_tampering
from cligym.rollout.harbor.importer import import_harbor_jobs
from cligym.rollout.trajectory import Trajectory

TAMPER = "rm /repo/tests/test_store.py"
SUMMARY_FILE = "trajectory.summarization-1-summary.json"
CONTINUATION_FILE = "trajectory.cont-1.json"
AGENT = {"name": "terminus-2", "version": "2.0.0", "model_name": "openai/scripted-model"}
SYSTEM = "You repair broken Linux environments."
TASK = "The inventory tests fail to import sqlite3. Make them pass."


def numbered(*steps: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"step_id": number, **step} for number, step in enumerate(steps, start=1)]


def call(call_id: str, command: str, output: str, function: str = "bash") -> dict[str, Any]:
    """The fields of an agent step that ran one command and read its output."""
    return {
        "tool_calls": [{"tool_call_id": call_id, "function_name": function, "arguments": {"command": command}}],
        "observation": {"results": [{"source_call_id": call_id, "content": output}]},
    }


def atif(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"schema_version": "ATIF-v1.7", "agent": AGENT, "steps": numbered(*steps), **fields}


def resumed_session() -> dict[str, Any]:
    """A session resumed from an earlier one (as pi and Kimi write it): the earlier turns copied in first,
    then a deterministic dispatch and the model's own turns."""
    return atif(
        {"source": "system", "message": SYSTEM},
        {"source": "user", "message": TASK, "is_copied_context": True},
        {
            "source": "agent",
            "message": "Looking at the repository first.",
            "is_copied_context": True,
            "llm_call_count": 1,
            **call("c1", "ls /repo/tests", "test_store.py"),
        },
        {"source": "user", "message": "Continue where you left off."},
        {"source": "agent", "message": "", "llm_call_count": 0, **call("d1", "cat /repo/setup.cfg", "[tool:pytest]")},
        {
            "source": "agent",
            "message": "The soname is wrong; relinking.",
            "llm_call_count": 1,
            "metrics": {"prompt_tokens": 120, "completion_tokens": 30},
            **call("m1", "ln -sf libsqlite3.so.0.8.6 /usr/lib/libsqlite3.so.0", ""),
        },
        {"source": "agent", "message": "Done.", "metrics": {"prompt_tokens": 150, "completion_tokens": 5}},
    )


def delegating_parent() -> dict[str, Any]:
    """A Terminus 2 parent that summarised its context (a system step referencing the summary subagent's
    file) and a Codex-style spawn whose child is embedded and deletes a test file."""
    spawn = call("s1", "", '{"task_name": "fixer"}', function="spawn_agent")
    spawn["tool_calls"][0]["arguments"] = {"task": "make the tests pass"}
    spawn["observation"]["results"][0]["subagent_trajectory_ref"] = [{"trajectory_id": "child-1"}]
    child = atif(
        {"source": "user", "message": "make the tests pass"},
        {"source": "agent", "message": "", **call("x1", TAMPER, "")},
        {"source": "agent", "message": "The failing test is gone."},
        trajectory_id="child-1",
    )
    return atif(
        {"source": "user", "message": TASK},
        {"source": "agent", "message": "Checking.", **call("p1", "ls /repo", "inventory tests")},
        {
            "source": "system",
            "message": "Performed context summarization and handoff to continue task.",
            "observation": {
                "results": [{"subagent_trajectory_ref": [{"session_id": "s-summary", "trajectory_path": SUMMARY_FILE}]}]
            },
        },
        {"source": "agent", "message": "Delegating.", **spawn},
        {"source": "agent", "message": "All tests pass now."},
        trajectory_id="parent",
        subagent_trajectories=[child],
    )


def summary_subagent() -> dict[str, Any]:
    """Terminus 2's summary subagent: the parent's steps copied in, then the summary prompt and answer."""
    return atif(
        {"source": "user", "message": TASK, "is_copied_context": True},
        {"source": "agent", "message": "Checking.", "is_copied_context": True, **call("p1", "ls /repo", "inventory")},
        {"source": "user", "message": "Summarise what you did so far."},
        {"source": "agent", "message": "I listed /repo.", "metrics": {"prompt_tokens": 50, "completion_tokens": 9}},
    )


def first_segment() -> dict[str, Any]:
    return atif(
        {"source": "user", "message": TASK},
        {"source": "agent", "message": "Checking.", **call("p1", "ls /repo", "inventory tests")},
        continued_trajectory_ref=CONTINUATION_FILE,
    )


def continuation() -> dict[str, Any]:
    """Terminus 2's ``linear_history`` continuation: the handoff context copied in, then new turns."""
    return atif(
        {"source": "user", "message": TASK, "is_copied_context": True},
        {"source": "agent", "message": "Which tests fail?", "is_copied_context": True},
        {"source": "user", "message": "Here are the answers: test_store.", "is_copied_context": True},
        {"source": "agent", "message": "Relinking.", **call("q1", "ldconfig", "")},
    )


def write_trial(job: Path, name: str, files: dict[str, dict[str, Any]], reward: float = 1.0) -> Path:
    trial = job / name
    (trial / "agent").mkdir(parents=True)
    (trial / "config.json").write_text("{}")
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat()
    result = {
        "task_name": "cligym/inventory-sqlite-soname",
        "trial_name": name,
        "started_at": moment,
        "finished_at": moment,
        "verifier_result": {"rewards": {"reward": reward}},
    }
    (trial / "result.json").write_text(json.dumps(result))
    for file, content in files.items():
        (trial / "agent" / file).write_text(json.dumps(content))
    return trial


def imported(tmp_path: Path, files: dict[str, dict[str, Any]], reward: float = 1.0) -> Trajectory:
    trial = write_trial(tmp_path / "job", "trial", files, reward)
    summary = import_harbor_jobs([trial], tmp_path / "run")
    assert not summary.skipped_unreadable, summary.skipped_unreadable
    [trajectory] = summary.imported
    return trajectory


def assistant_texts(trajectory: Trajectory) -> list[str]:
    return [message["content"] for message in chat_record(trajectory)["messages"] if message["role"] == "assistant"]


# -- copied context and deterministic steps ------------------------------------------------------------------


def test_copied_and_deterministic_steps_are_never_assistant_messages_of_the_dataset(tmp_path: Path) -> None:
    trajectory = imported(tmp_path, {"trajectory.json": resumed_session()})
    assert assistant_texts(trajectory) == ["The soname is wrong; relinking.", "Done."]
    roles = [message.role for message in trajectory.messages]
    assert roles == ["system", "user", "user", "user", "user", "assistant", "tool", "assistant"]


def test_copied_and_deterministic_steps_stay_in_the_conversation_as_context(tmp_path: Path) -> None:
    messages = imported(tmp_path, {"trajectory.json": resumed_session()}).messages
    copied, deterministic = messages[2].text, messages[4].text
    assert copied.startswith("An earlier turn of the assistant, copied into this context:")
    assert "Looking at the repository first." in copied and "ls /repo/tests" in copied and "test_store.py" in copied
    assert deterministic.startswith("The agent did this without a model call:")
    assert "cat /repo/setup.cfg" in deterministic and "[tool:pytest]" in deterministic
    assert messages[1].text == TASK and messages[3].text == "Continue where you left off."


def test_commands_of_copied_and_deterministic_steps_are_the_episodes_actions(tmp_path: Path) -> None:
    trajectory = imported(tmp_path, {"trajectory.json": resumed_session()})
    steps = [(step.index, step.command, step.output, step.tool_call_id) for step in trajectory.steps]
    assert steps == [
        (0, "ls /repo/tests", "test_store.py", None),
        (0, "cat /repo/setup.cfg", "[tool:pytest]", None),
        (1, "ln -sf libsqlite3.so.0.8.6 /usr/lib/libsqlite3.so.0", "", "m1"),
        (2, None, "", None),
    ]
    assert trajectory.totals.commands == 3


def test_only_the_models_own_turns_count_as_turns_and_tokens(tmp_path: Path) -> None:
    totals = imported(tmp_path, {"trajectory.json": resumed_session()}).totals
    assert (totals.steps, totals.prompt_tokens, totals.completion_tokens) == (2, 270, 35)


# -- subagents -----------------------------------------------------------------------------------------------


def delegating_trial(tmp_path: Path) -> Trajectory:
    return imported(tmp_path, {"trajectory.json": delegating_parent(), SUMMARY_FILE: summary_subagent()})


def test_an_embedded_subagents_commands_are_judged_with_the_parents(tmp_path: Path) -> None:
    trajectory = delegating_trial(tmp_path)
    assert TAMPER in [step.command for step in trajectory.steps]
    reason = no_test_tampering(trajectory)
    assert reason is not None and TAMPER in reason


def test_subagent_steps_follow_the_step_that_delegated_under_its_turn(tmp_path: Path) -> None:
    steps = [(step.index, step.command, step.tool_call_id) for step in delegating_trial(tmp_path).steps]
    # The summary subagent's copy of `ls /repo` is the parent's own step, not a second run of it.
    assert steps == [(1, "ls /repo", "p1"), (2, None, "s1"), (2, TAMPER, None), (3, None, None)]


def test_subagent_conversations_stay_out_of_the_parents_messages(tmp_path: Path) -> None:
    trajectory = delegating_trial(tmp_path)
    texts = [message.text for message in trajectory.messages]
    assert "I listed /repo." not in texts and "The failing test is gone." not in texts
    assert assistant_texts(trajectory) == ["Checking.", "Delegating.", "All tests pass now."]
    assert trajectory.totals.steps == 3


def test_one_record_per_trial_with_the_parents_reward(tmp_path: Path) -> None:
    trial = write_trial(
        tmp_path / "job", "trial", {"trajectory.json": delegating_parent(), SUMMARY_FILE: summary_subagent()}, 0.0
    )
    summary = import_harbor_jobs([trial], tmp_path / "run")
    [trajectory] = summary.imported
    assert trajectory.reward == 0.0
    assert f"agent/{SUMMARY_FILE}" in trajectory.termination_detail
    assert "subagent child-1" in trajectory.termination_detail


def test_a_missing_subagent_file_makes_the_trial_unreadable(tmp_path: Path) -> None:
    trial = write_trial(tmp_path / "job", "trial", {"trajectory.json": delegating_parent()})
    summary = import_harbor_jobs([trial], tmp_path / "run")
    assert not summary.imported
    [skipped] = summary.skipped_unreadable
    assert (
        skipped.reason
        == f"the subagent trajectory agent/{SUMMARY_FILE} is missing, so the commands it ran cannot be judged"
    )


def test_a_subagent_reference_that_resolves_nowhere_makes_the_trial_unreadable(tmp_path: Path) -> None:
    parent = delegating_parent()
    parent["subagent_trajectories"][0]["trajectory_id"] = "someone-else"
    trial = write_trial(tmp_path / "job", "trial", {"trajectory.json": parent, SUMMARY_FILE: summary_subagent()})
    [skipped] = import_harbor_jobs([trial], tmp_path / "run").skipped_unreadable
    assert "subagent trajectory child-1 is neither embedded nor a file in agent/" in skipped.reason


def test_a_subagent_file_outside_the_agent_directory_is_not_read(tmp_path: Path) -> None:
    parent = delegating_parent()
    parent["steps"][2]["observation"]["results"][0]["subagent_trajectory_ref"][0]["trajectory_path"] = "../result.json"
    trial = write_trial(tmp_path / "job", "trial", {"trajectory.json": parent})
    [skipped] = import_harbor_jobs([trial], tmp_path / "run").skipped_unreadable
    assert skipped.reason == "the subagent trajectory ../result.json is outside the trial's agent/ directory"


# -- continuation files --------------------------------------------------------------------------------------


def test_a_continuation_file_extends_the_conversation_and_its_copies_are_context(tmp_path: Path) -> None:
    trajectory = imported(tmp_path, {"trajectory.json": first_segment(), CONTINUATION_FILE: continuation()})
    assert [step.command for step in trajectory.steps] == ["ls /repo", "ldconfig"]
    assert assistant_texts(trajectory) == ["Checking.", "Relinking."]
    roles = [message.role for message in trajectory.messages]
    assert roles == ["user", "assistant", "tool", "user", "user", "user", "assistant", "tool"]
    assert "Which tests fail?" in trajectory.messages[4].text
    assert f"agent/{CONTINUATION_FILE}" in trajectory.termination_detail


def test_a_trajectory_continued_in_itself_is_read_once(tmp_path: Path) -> None:
    looping = first_segment() | {"continued_trajectory_ref": "trajectory.json"}
    trajectory = imported(tmp_path, {"trajectory.json": looping})
    assert [step.command for step in trajectory.steps] == ["ls /repo"]


# -- the fixtures are what Harbor writes ---------------------------------------------------------------------

VALIDATE = """
import sys
from pathlib import Path
from harbor.models.trajectories import Trajectory
for name in sys.argv[1:]:
    Trajectory.model_validate_json(Path(name).read_text())
print("valid", len(sys.argv) - 1)
"""


@pytest.mark.slow  # installs the Harbor client on the first run
def test_the_hand_written_trajectories_are_valid_for_harbors_own_models(harbor_python: Path, tmp_path: Path) -> None:
    python = harbor_python
    documents = [resumed_session(), delegating_parent(), summary_subagent(), first_segment(), continuation()]
    paths = []
    for number, document in enumerate(documents):
        path = tmp_path / f"trajectory-{number}.json"
        path.write_text(json.dumps(document))
        paths.append(str(path))
    completed = subprocess.run([str(python), "-c", VALIDATE, *paths], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split() == ["valid", str(len(documents))]
