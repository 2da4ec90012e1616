"""The model client against a real OpenAI-compatible HTTP server on 127.0.0.1 (scripted): replies, tool calls,
usage, retries and the errors a user can fix."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from cligym.errors import CligymError
from cligym.llm import ChatClient, ModelRequestRejected, ModelUnavailableError, ToolSpec, tool_message, user_message
from cligym.llm.scripted_server import (
    Hang,
    HttpError,
    Reply,
    ScriptedModelServer,
    ScriptedToolCall,
    malformed_tool_call,
    tool_reply,
)

HELLO = [user_message("hello")]
BASH = ToolSpec(
    name="bash",
    description="Run a shell command.",
    parameters={"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
)


def client(server: ScriptedModelServer, **options: object) -> ChatClient:
    options = {"retry_backoff": 0.01, **options}
    return ChatClient(server.base_url, server.model, **options)  # type: ignore[arg-type]


def test_a_text_reply_comes_back_with_finish_reason_and_usage() -> None:
    with ScriptedModelServer([Reply(content="hi there", prompt_tokens=12, completion_tokens=3)]) as server:
        reply = client(server).complete(HELLO)
    assert reply.message.content == "hi there"
    assert reply.message.tool_calls == []
    assert reply.finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (12, 3)
    assert reply.model == server.model and reply.attempts == 1


def test_the_request_carries_messages_tools_and_sampling_parameters() -> None:
    with ScriptedModelServer([Reply(content="ok")]) as server:
        client(server, temperature=0.2, top_p=0.9, max_tokens=64, seed=7).complete(HELLO, [BASH], seed=11)
    body = server.requests[0]
    assert body["model"] == server.model and body["messages"] == [{"role": "user", "content": "hello"}]
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.2, 0.9, 64, 11)
    assert body["tools"] == [BASH.to_wire()]


def test_tool_calls_come_back_with_id_name_and_raw_arguments() -> None:
    calls = (ScriptedToolCall("bash", {"command": "ls /"}, id="call_a"), ScriptedToolCall("bash", {"command": "id"}))
    with ScriptedModelServer([Reply(tool_calls=calls)]) as server:
        reply = client(server).complete(HELLO, [BASH])
    assert reply.finish_reason == "tool_calls"
    first, second = reply.message.tool_calls
    assert (first.id, first.name, first.arguments) == ("call_a", "bash", '{"command": "ls /"}')
    assert first.parsed_arguments() == {"command": "ls /"}
    assert second.id and second.id != first.id


def test_the_assistant_message_and_tool_results_round_trip_in_the_next_request() -> None:
    with ScriptedModelServer([tool_reply("bash", {"command": "uname"}), Reply(content="done")]) as server:
        chat = client(server)
        messages = list(HELLO)
        reply = chat.complete(messages, [BASH])
        call = reply.message.tool_calls[0]
        messages += [reply.message, tool_message(call.id, "Linux")]
        chat.complete(messages, [BASH])
    sent = server.requests[1]["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "bash", "arguments": '{"command": "uname"}'}
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "Linux"}


def test_usage_totals_add_up_over_calls() -> None:
    script = [Reply(content="a", prompt_tokens=10, completion_tokens=1), Reply(content="b", prompt_tokens=30)]
    with ScriptedModelServer(script) as server:
        chat = client(server)
        chat.complete(HELLO)
        chat.complete(HELLO)
    assert (chat.usage.prompt_tokens, chat.usage.completion_tokens) == (40, 21)
    assert chat.usage.total_tokens == 61 and chat.requests == 2


def test_a_server_error_is_retried_then_succeeds() -> None:
    with ScriptedModelServer([HttpError(500), HttpError(503), Reply(content="fine")]) as server:
        reply = client(server).complete(HELLO)
    assert reply.message.content == "fine" and reply.attempts == 3
    assert len(server.requests) == 3


def test_rate_limiting_waits_at_least_as_long_as_retry_after() -> None:
    with ScriptedModelServer([HttpError(429, "slow down", retry_after=0.3), Reply(content="ok")]) as server:
        started = time.monotonic()
        reply = client(server).complete(HELLO)
    assert reply.message.content == "ok" and reply.attempts == 2
    assert time.monotonic() - started >= 0.3


def waits(server: ScriptedModelServer, jitter: float | None = None, **options: Any) -> list[float]:
    slept: list[float] = []
    extra: dict[str, Any] = {"jitter": lambda: jitter} if jitter is not None else {}
    chat = ChatClient(server.base_url, server.model, retry_backoff=1.0, sleep=slept.append, **extra, **options)
    chat.complete(HELLO)
    return slept


def test_backoff_is_exponential_with_jitter_between_half_and_all_of_each_step() -> None:
    failures = [HttpError(500, "busy"), HttpError(503, "busy"), HttpError(502, "busy")]
    with ScriptedModelServer([*failures, Reply(content="ok")]) as server:
        assert waits(server, jitter=0.0) == [0.5, 1.0, 2.0]
    with ScriptedModelServer([*failures, Reply(content="ok")]) as server:
        assert waits(server, jitter=1.0) == [1.0, 2.0, 4.0]
    spread = set()
    for _ in range(5):
        with ScriptedModelServer([HttpError(500, "busy"), Reply(content="ok")]) as server:
            (wait,) = waits(server)
        assert 0.5 <= wait <= 1.0
        spread.add(wait)
    assert len(spread) > 1  # clients sharing a server do not retry in lockstep


@pytest.mark.parametrize(
    ("error", "at_least"),
    [
        (HttpError(429, "slow down", retry_after_ms=7500), 7.5),
        (HttpError(429, "slow down", retry_after=12), 12.0),
        (None, 25),  # an HTTP date 30 s ahead, made when the test runs
    ],
)
def test_the_wait_the_server_asks_for_is_honoured(error: HttpError | None, at_least: float) -> None:
    if error is None:
        error = HttpError(
            429, "slow down", retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=30), True)
        )
    with ScriptedModelServer([error, Reply(content="ok")]) as server:
        (wait,) = waits(server, jitter=0.0)
    assert at_least <= wait <= 60


def test_a_server_without_tool_calls_is_a_configuration_error_with_the_fix() -> None:
    refusal = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
    with (
        ScriptedModelServer([HttpError(400, refusal)]) as server,
        pytest.raises(ModelUnavailableError, match="does not accept tool calls") as info,
    ):
        client(server).complete(HELLO, [BASH])
    assert "--tool-call-parser" in (info.value.hint or "") and "action_format=text" in (info.value.hint or "")
    assert len(server.requests) == 1  # not retried: every request would fail the same way


def test_retries_are_bounded_and_the_error_names_the_model_and_url() -> None:
    with (
        ScriptedModelServer([HttpError(500, "overloaded")] * 3) as server,
        pytest.raises(ModelUnavailableError, match=r"failed 3 times, last: HTTP 500: overloaded") as info,
    ):
        client(server, max_retries=2).complete(HELLO)
    assert server.base_url in info.value.message and server.model in info.value.message
    assert len(server.requests) == 3


def test_a_hanging_response_hits_the_timeout_and_is_retried() -> None:
    with ScriptedModelServer([Hang(5), Reply(content="after the hang")]) as server:
        started = time.monotonic()
        reply = client(server, request_timeout=0.5).complete(HELLO)
        elapsed = time.monotonic() - started
    assert reply.message.content == "after the hang" and reply.attempts == 2
    assert elapsed < 4


def test_a_server_that_keeps_hanging_raises_a_clear_timeout_error() -> None:
    with (
        ScriptedModelServer([Hang(5), Hang(5)]) as server,
        pytest.raises(ModelUnavailableError, match=r"no answer within 0.3 s"),
    ):
        client(server, request_timeout=0.3, max_retries=1).complete(HELLO)


def test_a_refused_api_key_is_a_cligym_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_MODEL_KEY", "wrong")
    with (
        ScriptedModelServer([], api_key="right") as server,
        pytest.raises(CligymError, match="refused the API key") as info,
    ):
        client(server, api_key_env="MY_MODEL_KEY").complete(HELLO)
    assert "$MY_MODEL_KEY" in str(info.value)
    assert server.requests == []  # refused before the script was consulted, and never retried


def test_the_key_is_read_from_the_named_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_MODEL_KEY", "right")
    with ScriptedModelServer([Reply(content="ok")], api_key="right") as server:
        assert client(server, api_key_env="MY_MODEL_KEY").complete(HELLO).message.content == "ok"


def test_an_unknown_model_is_an_error_listing_the_served_models() -> None:
    with ScriptedModelServer([], model="Qwen/Qwen3-8B") as server:
        chat = ChatClient(server.base_url, "Qwen/Qwen3-80B")
        with pytest.raises(ModelUnavailableError, match=r"'Qwen/Qwen3-80B' is not served") as info:
            chat.complete(HELLO)
    assert "Qwen/Qwen3-8B" in str(info.value)


def test_a_url_that_is_not_http_is_refused_at_once() -> None:
    with pytest.raises(ModelUnavailableError, match="not an http"):
        ChatClient("localhost:8000/v1", "m")


def test_an_unreachable_server_is_retried_then_reported_with_its_url() -> None:
    with ScriptedModelServer([]) as server:
        url = server.base_url  # the port is free again once the server is closed
    with pytest.raises(ModelUnavailableError, match="cannot connect") as info:
        ChatClient(url, "m", max_retries=1, retry_backoff=0.01).complete(HELLO)
    assert url in info.value.message


def test_a_rejected_request_is_not_retried() -> None:
    with (
        ScriptedModelServer([HttpError(400, "maximum context length is 32768 tokens")]) as server,
        pytest.raises(ModelRequestRejected, match="maximum context length") as info,
    ):
        client(server).complete(HELLO)
    assert info.value.status == 400 and len(server.requests) == 1


def test_malformed_tool_arguments_are_surfaced_as_the_raw_string() -> None:
    with ScriptedModelServer([malformed_tool_call("bash")]) as server:
        reply = client(server).complete(HELLO, [BASH])
    call = reply.message.tool_calls[0]
    assert call.arguments == '{"command": "ls -l'
    with pytest.raises(ValueError, match="not valid JSON"):
        call.parsed_arguments()
    assert reply.message.to_wire()["tool_calls"][0]["function"]["arguments"] == '{"command": "ls -l'
    assert reply.message.with_safe_arguments().to_wire()["tool_calls"][0]["function"]["arguments"] == "{}"


def test_a_callable_step_sees_the_request_and_reasoning_is_kept_apart() -> None:
    def echo(body: dict) -> Reply:
        return Reply(content=body["messages"][-1]["content"].upper(), reasoning_content="thinking...")

    with ScriptedModelServer([echo]) as server:
        reply = client(server).complete(HELLO)
    assert reply.message.content == "HELLO" and reply.message.reasoning_content == "thinking..."
    assert "reasoning" not in str(reply.message.to_wire())
    assert reply.message.model_dump()["reasoning_content"] == "thinking..."  # a trajectory keeps it
