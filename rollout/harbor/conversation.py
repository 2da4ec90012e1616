"""An agent's ATIF trajectory as our messages and steps (the rules are in the package's docstring)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cligym.llm.messages import ChatMessage, ToolCall, tool_message, user_message
from cligym.rollout.harbor.files import AtifContent, AtifMetrics, AtifResult, AtifStep, AtifToolCall, AtifTrajectory
from cligym.rollout.trajectory import Step

COMMAND_ARGUMENTS = ("command", "cmd", "keystrokes")


@dataclass
class Conversation:
    messages: list[ChatMessage] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def conversation_of(atif: AtifTrajectory) -> Conversation:
    conversation = Conversation()
    for step in atif.steps:
        if step.source == "agent":
            _agent_turn(conversation, step)
        else:
            conversation.messages.append(ChatMessage(role=step.source, content=_text(step.message)))
    return conversation


def _agent_turn(conversation: Conversation, step: AtifStep) -> None:
    conversation.turns += 1
    metrics = step.metrics or AtifMetrics()
    prompt_tokens, completion_tokens = metrics.prompt_tokens or 0, metrics.completion_tokens or 0
    conversation.prompt_tokens += prompt_tokens
    conversation.completion_tokens += completion_tokens
    calls = step.tool_calls or []
    conversation.messages.append(
        ChatMessage(
            role="assistant",
            content=_text(step.message),
            reasoning_content=step.reasoning_content or None,
            tool_calls=[
                ToolCall(id=call.tool_call_id, name=call.function_name, arguments=json.dumps(call.arguments))
                for call in calls
            ],
        )
    )
    results = step.observation.results if step.observation else []
    if not calls:
        feedback = "\n".join(text for text in (_text(r.content) for r in results) if text)
        if feedback:
            conversation.messages.append(user_message(feedback))
        conversation.steps.append(
            Step(
                index=conversation.turns,
                output=feedback,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        )
        return
    answers = _answers(calls, results)
    for position, call in enumerate(calls):
        output = answers[call.tool_call_id]
        conversation.messages.append(tool_message(call.tool_call_id, output))
        conversation.steps.append(
            Step(
                index=conversation.turns,
                command=_command(call),
                output=output,
                tool_call_id=call.tool_call_id,
                prompt_tokens=prompt_tokens if position == 0 else 0,  # a turn's tokens are counted once
                completion_tokens=completion_tokens if position == 0 else 0,
            )
        )


def _answers(calls: list[AtifToolCall], results: list[AtifResult]) -> dict[str, str]:
    """Each call's result text: its own results, then results that name no call fill unanswered calls."""
    answers: dict[str, list[str]] = {call.tool_call_id: [] for call in calls}
    unlinked: list[str] = []
    for result in results:
        text = _text(result.content)
        if result.source_call_id in answers:
            answers[result.source_call_id].append(text)
        else:
            unlinked.append(text)
    if unlinked:
        first_unanswered = next((key for key, texts in answers.items() if not texts), calls[-1].tool_call_id)
        answers[first_unanswered].extend(unlinked)
    return {key: "\n".join(texts) for key, texts in answers.items()}


def _command(call: AtifToolCall) -> str | None:
    for name in COMMAND_ARGUMENTS:
        value = call.arguments.get(name)
        # Terminus sends keystrokes; the newline that submits them is not part of the command.
        if isinstance(value, str) and value.strip():
            return value.rstrip("\n")
    return None


def _text(content: AtifContent) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if part.type == "text":
            parts.append(part.text or "")
        else:
            parts.append(f"[{part.type}: {(part.source or {}).get('path', '')}]")
    return "\n".join(parts)


def tool_definitions(atif: AtifTrajectory | None) -> list[dict[str, Any]]:
    if atif is None or not atif.agent.tool_definitions:
        return []
    # ATIF allows the bare function object as well as OpenAI's {"type": "function", "function": ...}.
    return [
        tool if "function" in tool else {"type": "function", "function": tool} for tool in atif.agent.tool_definitions
    ]
