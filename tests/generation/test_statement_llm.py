"""Model-written problem statements: the model sees only symptoms, and a reply naming the cause is rejected
(scripted OpenAI-compatible server on 127.0.0.1, the real client)."""

from __future__ import annotations

import pytest

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import Category, SharedLibraryTarget, run
from cligym.generation.statements.by_model import StatementNotWritten, write_statement_with_model
from cligym.generation.statements.templates import StatementLeak
from cligym.generation.task_record import Candidate, Validation
from cligym.llm import ChatClient
from cligym.llm.scripted_server import Reply, ScriptedModelServer

LIB = "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6"
GOLD = GoldRecord.model_construct(  # type: ignore[call-arg]  # a partial record: only what these tests read
    name="inventory", repo_path="/repo", base_test_command="python -m pytest tests"
)
CANDIDATE = Candidate(
    repo="inventory",
    category=Category.SHARED_LIBRARY,
    inverter="agent:scripted-model",
    target=SharedLibraryTarget(path=LIB, debian_package="libsqlite3-0"),
    description="the sqlite soname link points at libm",
    break_steps=[run("ln -sf libm.so.6 /usr/lib/x86_64-linux-gnu/libsqlite3.so.0")],
    repair_commands=[f"ln -sf {LIB} /usr/lib/x86_64-linux-gnu/libsqlite3.so.0 && ldconfig"],
)
VALIDATION = Validation(
    fail_to_pass=["tests/test_store.py::test_add_and_get", "tests/test_store.py::test_total_value"],
    pass_to_pass=["tests/test_compression.py::test_zlib_round_trip"],
    failure_messages={
        "tests/test_store.py::test_add_and_get": (
            "    import sqlite3\n"
            "E   ImportError: /usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-x86_64-linux-gnu.so: "
            "undefined symbol: sqlite3_open_v2\n"
        )
    },
)
STATEMENT = (
    "## Tests fail with an ImportError\n\nRunning `python -m pytest tests` in /repo, 2 tests now fail, e.g. "
    "`tests/test_store.py::test_add_and_get`, with `ImportError: undefined symbol: sqlite3_open_v2`. "
    "Nothing in the repository changed. Please fix the environment."
)


def chat(server: ScriptedModelServer) -> ChatClient:
    return ChatClient(server.base_url, server.model, retry_backoff=0.01)


def test_a_symptom_only_reply_is_accepted_with_its_tokens() -> None:
    reply = Reply(content=f"<think>the link is wrong</think>\n{STATEMENT}", prompt_tokens=700, completion_tokens=90)
    with ScriptedModelServer([reply]) as server:
        written = write_statement_with_model(chat(server), GOLD, CANDIDATE, VALIDATION, "bug_report", hint=False)
    assert written.text == STATEMENT
    assert (written.usage.prompt_tokens, written.usage.completion_tokens, written.attempts) == (700, 90, 1)


def test_the_model_sees_the_symptoms_and_the_style_but_not_the_cause() -> None:
    with ScriptedModelServer([Reply(content=STATEMENT)]) as server:
        write_statement_with_model(chat(server), GOLD, CANDIDATE, VALIDATION, "ticket", hint=True)
    prompt = server.requests[0]["messages"][0]["content"]
    assert "python -m pytest tests" in prompt and "tests/test_store.py::test_total_value" in prompt
    assert "undefined symbol: sqlite3_open_v2" in prompt
    assert '"Summary", "Steps to reproduce"' in prompt  # the ticket style
    assert "a shared library that Python loads" in prompt  # the hint's area
    assert LIB not in prompt and "ldconfig" not in prompt and "libm.so.6" not in prompt


def test_a_reply_naming_the_target_path_is_rejected_as_a_leak() -> None:
    leaking = Reply(content=f"The tests fail because {LIB} is not linked.", prompt_tokens=500, completion_tokens=40)
    with (
        ScriptedModelServer([leaking, leaking]) as server,
        pytest.raises(StatementLeak, match="the statement names") as info,
    ):
        write_statement_with_model(chat(server), GOLD, CANDIDATE, VALIDATION, "terse", hint=False)
    assert LIB in str(info.value)
    assert info.value.usage.total_tokens == 2 * 540  # type: ignore[attr-defined]
    retry = server.requests[1]["messages"][-1]["content"]
    assert "gives away the cause" in retry and LIB in retry


def test_a_leak_is_sent_back_once_and_a_clean_rewrite_is_accepted() -> None:
    leaking = Reply(content="Try ldconfig, then the tests pass.", prompt_tokens=500, completion_tokens=10)
    with ScriptedModelServer([leaking, Reply(content=STATEMENT, prompt_tokens=600, completion_tokens=80)]) as server:
        written = write_statement_with_model(chat(server), GOLD, CANDIDATE, VALIDATION, "terse", hint=False)
    assert written.text == STATEMENT and written.attempts == 2
    assert written.usage.total_tokens == 1190


def test_an_empty_reply_is_not_a_statement() -> None:
    with ScriptedModelServer([Reply(content="<think>hmm</think>")]) as server, pytest.raises(StatementNotWritten):
        write_statement_with_model(chat(server), GOLD, CANDIDATE, VALIDATION, "terse", hint=False)
