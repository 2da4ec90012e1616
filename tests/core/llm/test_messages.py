"""Chat messages read from and written as OpenAI's wire shape, whoever produced them."""

from __future__ import annotations

import json

from cligym.llm import ChatMessage, ToolCall, tool_message
from cligym.rollout.trajectory import Trajectory

WIRE_ASSISTANT = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": "bash", "arguments": '{"command": "ls"}'}}
    ],
}


def test_a_wire_message_round_trips_unchanged_and_compact() -> None:
    message = ChatMessage.model_validate(WIRE_ASSISTANT)
    (call,) = message.tool_calls
    assert (call.id, call.name, call.parsed_arguments()) == ("call_0", "bash", {"command": "ls"})
    assert message.model_dump() == WIRE_ASSISTANT
    assert json.loads(message.model_dump_json()) == WIRE_ASSISTANT
    assert tool_message("call_0", "a b").model_dump() == {"role": "tool", "content": "a b", "tool_call_id": "call_0"}


def test_reasoning_is_recorded_but_never_sent() -> None:
    message = ChatMessage(role="assistant", content="done", reasoning_content="the link was wrong")
    assert message.model_dump()["reasoning_content"] == "the link was wrong"
    assert message.to_wire() == {"role": "assistant", "content": "done"}


def test_other_producers_shapes_are_read_as_the_same_message() -> None:
    # Content parts, arguments given as an object, null tool calls and keys we do not keep (OpenAI's refusal).
    message = ChatMessage.model_validate(
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "look"}, {"type": "text", "text": "here"}],
            "tool_calls": [{"id": "c", "function": {"name": "bash", "arguments": {"command": "pwd"}}}],
            "refusal": None,
        }
    )
    assert message.content == "look\nhere"
    assert message.tool_calls == [ToolCall(id="c", name="bash", arguments='{"command": "pwd"}')]
    assert ChatMessage.model_validate({"role": "user", "content": "x", "tool_calls": None}).tool_calls == []


def test_arguments_that_are_not_an_object_are_sent_back_as_an_empty_one() -> None:
    broken = ChatMessage(role="assistant", tool_calls=[ToolCall(id="c", name="bash", arguments='{"command": "ls')])
    assert broken.with_safe_arguments().tool_calls[0].arguments == "{}"
    assert broken.tool_calls[0].arguments == '{"command": "ls'  # the original is not changed
    fine = ChatMessage.model_validate(WIRE_ASSISTANT)
    assert fine.with_safe_arguments() is fine


def test_a_trajectory_written_before_messages_were_typed_still_reads() -> None:
    record = {
        "episode_id": "t#0",
        "task_id": "t",
        "sampling": {"model": "m", "base_url": "http://127.0.0.1:1/v1"},
        "messages": [{"role": "system", "content": "s"}, WIRE_ASSISTANT, {"role": "tool", "tool_call_id": "call_0"}],
        "termination_reason": "submitted",
        "started_at": "2026-12-01T00:00:00Z",
        "finished_at": "2026-12-01T00:01:00Z",
    }
    trajectory = Trajectory.model_validate(record)
    assert [m.role for m in trajectory.messages] == ["system", "assistant", "tool"]
    assert trajectory.messages[2].text == ""
    assert json.loads(trajectory.model_dump_json())["messages"][1] == WIRE_ASSISTANT
