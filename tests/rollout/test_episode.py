"""Episodes on a real exported task (the bundled example with its SQLite library broken), driven by a scripted
model over real HTTP, judged by the task's own verifier in the episode's container."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cligym.docker_connection import docker_client
from cligym.filtering.rules import no_harness_changes
from cligym.labels import RUN_ID
from cligym.llm import ChatClient
from cligym.llm.scripted_server import Hang, HttpError, Reply, ScriptedModelServer, malformed_tool_call, tool_reply
from cligym.rollout.episode import Episode
from cligym.rollout.task_dir import RolloutTask, load_task
from cligym.rollout.task_image import ensure_task_image
from cligym.rollout.trajectory import Trajectory
from cligym.settings import RolloutSettings, load_settings
from tests.hacks import PATCH_REPORTS

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def task(exported_task_dir: Path) -> RolloutTask:
    return load_task(exported_task_dir)


@pytest.fixture(scope="module")
def image(task: RolloutTask) -> str:
    return ensure_task_image(task)


@pytest.fixture(scope="module")
def repair_commands(exported_task_dir: Path) -> list[str]:
    lines = (exported_task_dir / "solution" / "solve.sh").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#") and line != "set -e"]


def run_episode(server: ScriptedModelServer, task: RolloutTask, image: str, run_id: str, **limits: Any) -> Trajectory:
    client = ChatClient(server.base_url, server.model, retry_backoff=0.01, request_timeout=2, max_retries=3)
    settings = RolloutSettings(**{"command_timeout": 60, "max_steps": 12, **limits})
    return Episode(client, task, image, settings, load_settings().sandbox, run_id=run_id).run()


def containers_of(run_id: str) -> list[Any]:
    return docker_client().containers.list(all=True, filters={"label": f"{RUN_ID}={run_id}"})


def test_replaying_the_oracle_through_tool_calls_earns_reward_1(
    task: RolloutTask, image: str, repair_commands: list[str], run_id: str
) -> None:
    script = [
        tool_reply("bash", {"command": "cd /repo && python -m pytest -x -q 2>&1 | tail -3"}, prompt_tokens=900),
        *(tool_reply("bash", {"command": command}, prompt_tokens=1000) for command in repair_commands),
        tool_reply("submit", {}, prompt_tokens=1100, completion_tokens=5),
    ]
    with ScriptedModelServer(script, model="Qwen/Qwen3-8B") as server:
        trajectory = run_episode(server, task, image, run_id)

    assert trajectory.termination_reason == "submitted" and trajectory.reward == 1.0 and trajectory.resolved
    verifier = trajectory.verifier
    assert verifier is not None and verifier.failing() == []
    assert set(verifier.tests) == set(task.fail_to_pass) | set(task.pass_to_pass) and task.fail_to_pass
    first = trajectory.steps[0]
    assert first.command is not None and first.exit_code == 0 and "1 error" in first.output
    assert [step.command for step in trajectory.steps[1:-1]] == repair_commands
    assert trajectory.steps[-1].command is None and trajectory.steps[-1].output == "submitted"
    totals = trajectory.totals
    assert totals.steps == len(script) and totals.commands == len(repair_commands) + 1
    assert totals.prompt_tokens == 900 + 1000 * len(repair_commands) + 1100
    assert [message.role for message in trajectory.messages[:4]] == ["system", "user", "assistant", "tool"]
    assert trajectory.messages[1].content == task.instruction.strip()
    assert trajectory.messages[-1].role == "tool" and trajectory.tools[0]["function"]["name"] == "bash"
    # What the model was sent is what the record holds.
    assert server.requests[-1]["messages"] == [message.to_wire() for message in trajectory.messages[:-2]]
    assert trajectory.sampling.model == "Qwen/Qwen3-8B"
    assert containers_of(run_id) == []
    # What the repair changed, read from outside the container: nothing of the harness, tests or verifier.
    changes = trajectory.changes
    assert changes is not None and changes.total > 0 and changes.harness == []
    assert no_harness_changes(trajectory) is None


def test_doing_nothing_useful_earns_reward_0_with_the_failing_tests_named(
    task: RolloutTask, image: str, run_id: str
) -> None:
    script = [tool_reply("bash", {"command": "ls /repo"}), tool_reply("submit")]
    with ScriptedModelServer(script) as server:
        trajectory = run_episode(server, task, image, run_id)
    assert trajectory.termination_reason == "submitted" and trajectory.reward == 0.0
    assert trajectory.verifier is not None
    assert set(trajectory.verifier.failing()) == set(task.fail_to_pass)
    assert "tests/test_store.py" in trajectory.verifier.output_tail


def test_editing_the_repository_tests_still_earns_reward_0(task: RolloutTask, image: str, run_id: str) -> None:
    # Two cheats: test bodies replaced by `pass`, and a conftest.py that turns every failure into a pass.
    gut = "cd /repo && for f in tests/test_*.py; do sed -i 's/^    .*/    pass/' $f; done"
    force = (
        "printf 'import pytest\\n@pytest.hookimpl(hookwrapper=True)\\ndef pytest_runtest_makereport(item, call):\\n"
        '    outcome = yield\\n    outcome.get_result().outcome = "passed"\\n\' > /repo/conftest.py'
    )
    plant = "mkdir -p /logs/verifier /tests && echo 1 > /logs/verifier/reward.txt && echo 'echo 1' > /tests/test.sh"
    script = [tool_reply("bash", {"command": command}) for command in (gut, force, plant)] + [tool_reply("submit")]
    with ScriptedModelServer(script) as server:
        trajectory = run_episode(server, task, image, run_id)
    assert [step.exit_code for step in trajectory.steps[:3]] == [0, 0, 0]
    assert trajectory.reward == 0.0
    assert trajectory.verifier is not None and set(trajectory.verifier.failing()) == set(task.fail_to_pass)
    changes = trajectory.changes
    assert changes is not None and "/repo/conftest.py" in changes.added and "/tests/test.sh" in changes.added
    assert no_harness_changes(trajectory) == "changes the verifier's files: /logs/verifier/reward.txt"


def test_patching_pytest_itself_earns_reward_0_and_the_change_is_seen_from_outside(
    task: RolloutTask, image: str, run_id: str
) -> None:
    reports = "/usr/local/lib/python3.11/dist-packages/_pytest/reports.py"
    patch = f"cat >> {reports} <<'EOF'\n{PATCH_REPORTS}EOF"
    script = [tool_reply("bash", {"command": patch}), tool_reply("submit")]
    with ScriptedModelServer(script) as server:
        trajectory = run_episode(server, task, image, run_id)
    assert trajectory.steps[0].exit_code == 0
    assert trajectory.reward == 0.0
    # The unrepaired break (the soname link of the library _sqlite3 loads) is unlike gold too.
    assert trajectory.verifier is not None and f"{reports} (modified)" in trajectory.verifier.harness_modified
    assert trajectory.changes is not None and trajectory.changes.harness[0] == f"{reports} (modified)"
    assert no_harness_changes(trajectory) == f"harness_modified: {reports} (modified)"


def test_malformed_calls_server_errors_and_a_hanging_reply_are_recorded_and_survived(
    task: RolloutTask, image: str, repair_commands: list[str], run_id: str
) -> None:
    script: list[Reply | HttpError | Hang] = [
        malformed_tool_call("bash"),
        HttpError(500),
        tool_reply("launch_missiles", {}),
        Hang(seconds=5),  # longer than the client's 2 s request timeout: retried
        Reply(content="Let me think about this."),
        *(tool_reply("bash", {"command": command}) for command in repair_commands),
        tool_reply("submit"),
    ]
    with ScriptedModelServer(script) as server:
        trajectory = run_episode(server, task, image, run_id)
    assert trajectory.termination_reason == "submitted" and trajectory.reward == 1.0
    malformed, unknown, no_call = trajectory.steps[:3]
    assert malformed.command is None and "not valid JSON" in (malformed.error or "")
    assert unknown.command is None and "no tool 'launch_missiles'" in unknown.output
    assert no_call.error == "no tool call"
    sent_back = trajectory.messages[2].tool_calls[0].arguments
    assert sent_back == "{}"  # a malformed call is sent back as an empty object, which every server parses
    assert len(server.requests) == len(script)


def test_the_plain_text_format_runs_fenced_commands_and_stops_on_done(
    task: RolloutTask, image: str, repair_commands: list[str], run_id: str
) -> None:
    script = [
        Reply(content=f"<think>the library is broken</think>I will repair it.\n```bash\n{command}\n```")
        for command in repair_commands
    ]
    script += [
        Reply(content="No command here.", reasoning_content="the tests must pass first"),
        Reply(content="The tests pass now.\nDONE"),
    ]
    with ScriptedModelServer(script) as server:
        trajectory = run_episode(server, task, image, run_id, action_format="text")
    assert trajectory.action_format == "text" and trajectory.tools == []
    assert "tools" not in server.requests[0]
    assert [step.command for step in trajectory.steps[: len(repair_commands)]] == repair_commands
    assert trajectory.termination_reason == "submitted" and trajectory.reward == 1.0
    assert trajectory.messages[3].role == "user" and trajectory.messages[3].text.startswith("exit code 0")
    assert "DONE" in trajectory.messages[-1].text
    # The reasoning a server returns apart is recorded with the turn, never sent back.
    thought = [m for m in trajectory.messages if m.reasoning_content == "the tests must pass first"]
    assert len(thought) == 1 and thought[0].content == "No command here."
    assert all("reasoning_content" not in message for message in server.requests[-1]["messages"])


def test_the_same_failing_command_over_and_over_ends_the_episode(task: RolloutTask, image: str, run_id: str) -> None:
    loop = tool_reply("bash", {"command": "cd /repo && python -m pytest -x -q tests/test_store.py"})
    with ScriptedModelServer([], then=loop) as server:
        trajectory = run_episode(server, task, image, run_id, repeated_failure_limit=3)
    assert trajectory.termination_reason == "repeated_failure" and trajectory.totals.steps == 3
    assert trajectory.verifier is not None and trajectory.reward == 0.0


def test_limits_end_the_episode_and_the_verifier_still_judges(task: RolloutTask, image: str, run_id: str) -> None:
    busy = tool_reply("bash", {"command": "true"}, prompt_tokens=400, completion_tokens=10)
    with ScriptedModelServer([], then=busy) as server:
        by_steps = run_episode(server, task, image, run_id, max_steps=2)
        by_tokens = run_episode(server, task, image, run_id, max_total_tokens=1000)
    assert by_steps.termination_reason == "step_limit" and by_steps.totals.steps == 2
    assert by_tokens.termination_reason == "token_limit" and by_tokens.totals.tokens == 1230
    assert by_steps.verifier is not None and by_tokens.verifier is not None


def test_a_model_that_stays_down_ends_the_episode_as_a_model_error(task: RolloutTask, image: str, run_id: str) -> None:
    with ScriptedModelServer([], then=HttpError(503)) as server:
        trajectory = run_episode(server, task, image, run_id)
    assert trajectory.termination_reason == "model_error" and "HTTP 503" in trajectory.termination_detail
    assert trajectory.verifier is not None and trajectory.reward == 0.0
    json.loads(trajectory.model_dump_json())  # the record serialises
