"""The agent inverter on the bundled example's gold image, driven by a scripted model over real HTTP: it
breaks the environment through its tools, submits a break that validates, and accounts for every token."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cligym.base_images import BaseImage
from cligym.docker_connection import docker_client
from cligym.generation.gold import GoldRecord, build_gold
from cligym.generation.inverters.agent import AgentInverter
from cligym.generation.operators.base import Category, run
from cligym.generation.task_record import Attempt, Candidate, Validation
from cligym.generation.validation import validate_candidate
from cligym.labels import RUN_ID
from cligym.llm import ChatClient
from cligym.llm.scripted_server import Reply, ScriptedModelServer, malformed_tool_call, tool_reply
from cligym.settings import AgentInverterSettings, load_settings

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
LIBDIR = "/usr/lib/x86_64-linux-gnu"
BREAK = f"ln -sf libm.so.6 {LIBDIR}/libsqlite3.so.0"
REPAIR = f"ln -sf libsqlite3.so.0.8.6 {LIBDIR}/libsqlite3.so.0 && ldconfig"
SUBMIT = {
    "break_commands": [BREAK],
    "repair_commands": [REPAIR],
    "description": "the sqlite soname link points at the maths library",
}


@pytest.fixture(scope="module")
def gold(base_image: BaseImage, tmp_path_factory: pytest.TempPathFactory) -> GoldRecord:
    run_dir = tmp_path_factory.mktemp("gold")
    return build_gold(REPO / "configs" / "repos" / "inventory.yaml", load_settings(), run_dir, lambda _: None)


def inverter(server: ScriptedModelServer, run_id: str, **budgets: Any) -> AgentInverter:
    settings = AgentInverterSettings(**{"command_timeout": 60, **budgets})
    client = ChatClient(server.base_url, server.model, retry_backoff=0.01)
    return AgentInverter(client, settings, load_settings().sandbox, run_id=run_id)


def tool_results(request: dict[str, Any]) -> list[str]:
    return [message["content"] for message in request["messages"] if message["role"] == "tool"]


def containers_of(run_id: str) -> list[Any]:
    return docker_client().containers.list(all=True, filters={"label": f"{RUN_ID}={run_id}"})


def valid_attempt(gold: GoldRecord, category: Category, description: str) -> Attempt:
    candidate = Candidate(
        repo=gold.name,
        category=category,
        inverter="catalog:made-for-the-test",
        description=description,
        break_steps=[run("true")],
        repair_commands=["true"],
    )
    now = datetime.now(UTC)
    return Attempt(
        repo=gold.name,
        key=description,
        candidate=candidate,
        validation=Validation(fail_to_pass=["t"]),
        task_id=f"{gold.name}-{description}",
        started_at=now,
        finished_at=now,
    )


def test_the_agent_breaks_through_its_tools_and_submits_a_valid_task(gold: GoldRecord, run_id: str) -> None:
    script = [
        tool_reply("bash", {"command": BREAK}, prompt_tokens=1500, completion_tokens=40),
        tool_reply("run_tests", {}, prompt_tokens=1600, completion_tokens=15),
        malformed_tool_call("bash", prompt_tokens=2200, completion_tokens=12),
        tool_reply("submit", SUBMIT, prompt_tokens=2300, completion_tokens=90),
    ]
    with ScriptedModelServer(script, model="Qwen/Qwen3-8B") as server:
        candidate = inverter(server, run_id, categories=["shared-library"]).propose(gold, [])
    assert candidate is not None
    assert candidate.inverter == "agent:Qwen/Qwen3-8B" and candidate.category == Category.SHARED_LIBRARY
    assert [step.render() for step in candidate.break_steps] == [f"RUN {BREAK}"]
    assert candidate.repair_commands == [REPAIR]
    assert candidate.description == SUBMIT["description"] and candidate.target is None
    provenance = candidate.provenance
    assert (provenance.prompt_tokens, provenance.completion_tokens) == (7600, 157)
    assert provenance.steps == 4 and provenance.model == "Qwen/Qwen3-8B"
    assert provenance.commands == [BREAK] and provenance.seconds > 0

    first = server.requests[0]["messages"]
    assert f"{LIBDIR}/libsqlite3.so.0.8.6 (libsqlite3-0)" in first[0]["content"]  # the probe summary
    assert "/repo" in first[0]["content"] and "shared-library" in first[1]["content"]
    assert [tool["function"]["name"] for tool in server.requests[0]["tools"]] == ["bash", "run_tests", "submit"]
    bash_result, tests_result, malformed_result = tool_results(server.requests[3])
    assert bash_result.startswith("exit code 0")
    assert "gold tests now fail" in tests_result and "tests/test_store.py::" in tests_result
    assert "tests/test_compression.py" not in tests_result.split("First error")[0]
    assert "not valid JSON" in malformed_result
    sent_back = server.requests[3]["messages"][-2]["tool_calls"][0]["function"]
    assert sent_back == {"name": "bash", "arguments": "{}"}  # servers may choke on the malformed original

    validation = validate_candidate(gold, candidate, load_settings(), run_id)
    assert validation.valid, validation.reason
    assert "tests/test_store.py::test_add_and_get" in validation.fail_to_pass
    assert containers_of(run_id) == []


def test_when_the_step_budget_runs_out_the_candidate_is_empty_and_its_cost_counted(
    gold: GoldRecord, run_id: str
) -> None:
    busy = tool_reply("bash", {"command": "true"}, prompt_tokens=300, completion_tokens=7)
    with ScriptedModelServer([], then=busy) as server:
        candidate = inverter(server, run_id, max_steps=3).propose(gold, [])
    assert candidate is not None and candidate.break_steps == [] and candidate.repair_commands == []
    assert "step budget (3 model turns) ran out" in candidate.description
    assert (candidate.provenance.steps, candidate.provenance.tokens) == (3, 921)
    assert candidate.provenance.commands == ["true"] * 3
    assert len(server.requests) == 3
    assert containers_of(run_id) == []


def test_a_submission_that_edits_the_repository_is_refused_with_a_tool_error(gold: GoldRecord, run_id: str) -> None:
    vandal = {**SUBMIT, "break_commands": ["sed -i 's/sqlite3/sqlite4/' /repo/inventory/store.py"]}
    script = [tool_reply("submit", vandal), Reply(content="I give up.")]
    with ScriptedModelServer(script) as server:
        candidate = inverter(server, run_id, max_steps=2).propose(gold, [])
    assert candidate is not None and candidate.break_steps == []
    (refusal,) = tool_results(server.requests[1])
    assert refusal.startswith("submission refused") and "changes files under /repo" in refusal
    assert containers_of(run_id) == []


def test_an_edit_of_the_repository_hidden_from_the_static_check_is_caught_on_the_replay(
    gold: GoldRecord, run_id: str
) -> None:
    hidden = {**SUBMIT, "break_commands": ["cd / && cd repo && echo '# touched' >> README.md"]}
    with ScriptedModelServer([tool_reply("submit", hidden), Reply(content="done")]) as server:
        candidate = inverter(server, run_id, max_steps=2).propose(gold, [])
    assert candidate is not None and candidate.break_steps == []
    (refusal,) = tool_results(server.requests[1])
    assert "change tracked files of the repository (README.md)" in refusal


def test_a_submission_that_breaks_nothing_on_a_fresh_copy_is_sent_back(gold: GoldRecord, run_id: str) -> None:
    harmless = {**SUBMIT, "break_commands": ["touch /tmp/nothing-depends-on-this"]}
    with ScriptedModelServer([tool_reply("submit", harmless), Reply(content="done")]) as server:
        candidate = inverter(server, run_id, max_steps=2).propose(gold, [])
    assert candidate is not None and candidate.break_steps == []
    (refusal,) = tool_results(server.requests[1])
    assert "all 29 gold tests still pass" in refusal
    assert containers_of(run_id) == []


def test_a_break_command_that_only_bash_understands_is_sent_back(gold: GoldRecord, run_id: str) -> None:
    # Dockerfile RUN lines run under /bin/sh (dash on Debian), where `source` does not exist.
    bashism = {**SUBMIT, "break_commands": [f"source /dev/null && {BREAK}"]}
    with ScriptedModelServer([tool_reply("submit", bashism), Reply(content="done")]) as server:
        candidate = inverter(server, run_id, max_steps=2).propose(gold, [])
    assert candidate is not None and candidate.break_steps == []
    (refusal,) = tool_results(server.requests[1])
    assert "break command 1 fails on a fresh copy" in refusal and "exit code 127" in refusal


def test_with_valid_tasks_in_the_history_the_next_proposal_aims_at_another_category(
    gold: GoldRecord, run_id: str
) -> None:
    with ScriptedModelServer([], then=tool_reply("bash", {"command": "true"})) as server:
        agent = inverter(server, run_id, max_steps=1, categories=["shared-library", "python-package"])
        first = agent.next_category(gold, [])
        history = [valid_attempt(gold, first, "a first break in the favourite category")]
        candidate = agent.propose(gold, history)
    assert candidate is not None and candidate.category != first
    task = server.requests[0]["messages"][1]["content"]
    assert str(candidate.category) in task and "a first break in the favourite category" in task


def test_after_max_proposals_the_inverter_has_nothing_left(gold: GoldRecord, run_id: str) -> None:
    with ScriptedModelServer([]) as server:
        agent = inverter(server, run_id, max_proposals=1)
        made = valid_attempt(gold, Category.FILE_SYSTEM, "x")
        own = made.model_copy(update={"candidate": made.candidate.model_copy(update={"inverter": "agent:m"})})
        assert agent.propose(gold, [own]) is None
    assert server.requests == []


def test_each_tool_result_answers_its_call_by_id_in_the_next_request(gold: GoldRecord, run_id: str) -> None:
    with ScriptedModelServer([], then=tool_reply("bash", {"command": "echo hi"})) as server:
        inverter(server, run_id, max_steps=2).propose(gold, [])
    second = server.requests[1]
    assistant, tool = second["messages"][2], second["messages"][3]
    assert assistant["tool_calls"][0]["function"]["name"] == "bash"
    assert tool["tool_call_id"] == assistant["tool_calls"][0]["id"] and "hi" in tool["content"]
