"""An agent's ATIF trajectory as our messages and steps (the rules are in the package's docstring)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cligym.llm.messages import ChatMessage, ToolCall, tool_message, user_message
from cligym.rollout.harbor.files import (
    ATIF_FILE,
    AtifContent,
    AtifMetrics,
    AtifResult,
    AtifStep,
    AtifSubagentRef,
    AtifToolCall,
    AtifTrajectory,
    Unreadable,
    read_model,
)
from cligym.rollout.trajectory import Step

COMMAND_ARGUMENTS = ("command", "cmd", "keystrokes")
COPIED_CONTEXT = "An earlier turn of the assistant, copied into this context:"
NO_MODEL_CALL = "The agent did this without a model call:"

# How a trajectory's steps are taken in: the root (trajectory.json) and its continuation files make the
# conversation; a subagent's conversation is its own, so it adds only its actions to the steps.
_Mode = Literal["root", "continuation", "subagent"]


@dataclass
class Conversation:
    messages: list[ChatMessage] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    linked: list[str] = field(default_factory=list)  # subagent and continuation trajectories read


def conversation_of(atif: AtifTrajectory, agent_dir: Path | None = None) -> Conversation:
    """The messages and steps of ``atif`` with its continuation files and subagent trajectories, which are
    read from ``agent_dir`` (the trial's ``agent/``) or embedded in ``atif``. A reference that cannot be
    resolved is ``Unreadable``: the commands behind it could not be judged."""
    reader = _Reader(agent_dir)
    if agent_dir is not None:
        reader.files[(agent_dir / ATIF_FILE.name).resolve()] = atif
    reader.read(atif, "root", ())
    return reader.conversation


class _Reader:
    def __init__(self, agent_dir: Path | None) -> None:
        self.agent_dir = agent_dir
        self.conversation = Conversation()
        self.files: dict[Path, AtifTrajectory] = {}
        self._read: set[int] = set()

    def read(self, atif: AtifTrajectory, mode: _Mode, parents: tuple[AtifTrajectory, ...], label: str = "") -> None:
        if id(atif) in self._read:  # a reference back to a trajectory taken in already
            return
        self._read.add(id(atif))
        if label:
            self.conversation.linked.append(label)
        conversation = self.conversation
        scope = (atif, *parents)
        for step in atif.steps:
            # A copied step's original is in the trajectory it was copied from: a subagent's parent, a
            # continuation's previous file, both taken in already. Only the root's copies (a resumed session's
            # earlier turns) have no original here, so only their commands count.
            counted = not step.is_copied_context or mode == "root"
            if mode == "subagent":
                if step.source == "agent" and counted:
                    _actions(conversation, step)
            elif step.is_copied_context or (step.source == "agent" and step.llm_call_count == 0):
                _context(conversation, step, counted)
            elif step.source == "agent":
                _agent_turn(conversation, step)
            else:
                conversation.messages.append(ChatMessage(role=step.source, content=_text(step.message)))
            if counted:
                for ref in step.subagent_refs():
                    subagent, where = self._subagent(ref, scope)
                    self.read(subagent, "subagent", scope, where)
        if atif.continued_trajectory_ref:
            name = atif.continued_trajectory_ref
            continuation = self._file(name, "continuation")
            self.read(continuation, "subagent" if mode == "subagent" else "continuation", parents, f"agent/{name}")

    def _subagent(self, ref: AtifSubagentRef, scope: tuple[AtifTrajectory, ...]) -> tuple[AtifTrajectory, str]:
        # ATIF prefers the embedded copy when a reference has both; an embedded subagent's own subagents may
        # sit in its array or in any ancestor's.
        if ref.trajectory_id is not None:
            for parent in scope:
                for subagent in parent.subagent_trajectories or []:
                    if subagent.trajectory_id == ref.trajectory_id:
                        return subagent, f"subagent {ref.trajectory_id}"
        if ref.trajectory_path is not None:
            return self._file(ref.trajectory_path, "subagent trajectory"), f"agent/{ref.trajectory_path}"
        raise Unreadable(
            f"subagent trajectory {ref.describe()} is neither embedded nor a file in agent/, "
            "so the commands it ran cannot be judged"
        )

    def _file(self, name: str, what: str) -> AtifTrajectory:
        if self.agent_dir is None:
            raise Unreadable(f"the {what} {name} is a file, and no agent directory was given to read it from")
        agent_dir = self.agent_dir.resolve()
        path = (agent_dir / name).resolve()
        if not path.is_relative_to(agent_dir):
            raise Unreadable(f"the {what} {name} is outside the trial's agent/ directory")
        if not path.is_file():
            raise Unreadable(f"the {what} agent/{name} is missing, so the commands it ran cannot be judged")
        if path not in self.files:
            self.files[path] = read_model(path, AtifTrajectory)
        return self.files[path]


def _context(conversation: Conversation, step: AtifStep, counted: bool) -> None:
    """A step that is not the model's output here: copied from an earlier trajectory, or a deterministic
    dispatch (``llm_call_count == 0``). The model read it, so it stays in the conversation, but never as an
    assistant message: the chat dataset trains on every assistant message (assistant-only loss), and Harbor's
    ATIF says copied steps must not be trained on again. An agent's step becomes a user message (a system
    message mid-conversation trips strict chat templates) without its reasoning, which servers never send
    back; its calls, which ran in the container, are still the episode's actions unless their original is
    counted elsewhere."""
    if step.source != "agent":
        conversation.messages.append(ChatMessage(role=step.source, content=_text(step.message)))
        return
    calls = step.tool_calls or []
    results = step.observation.results if step.observation else []
    parts = [COPIED_CONTEXT if step.is_copied_context else NO_MODEL_CALL]
    if text := _text(step.message).strip():
        parts.append(text)
    answers = _answers(calls, results) if calls else {"": _feedback(results)}
    for call in calls:
        parts.append(f"Called {call.function_name}: {json.dumps(call.arguments)}")
        if answers[call.tool_call_id]:
            parts.append(f"Output:\n{answers[call.tool_call_id]}")
    if not calls and answers[""]:
        parts.append(f"Output:\n{answers['']}")
    conversation.messages.append(user_message("\n\n".join(parts)))
    if counted:
        _actions(conversation, step)


def _actions(conversation: Conversation, step: AtifStep) -> None:
    """The step's calls as steps of the episode, under the model turn they followed; tokens stay with the
    turns of the conversation trained on (a copied step's were spent before, a subagent's elsewhere), and no
    ``tool_call_id``, since no message holds these calls."""
    calls = step.tool_calls or []
    answers = _answers(calls, step.observation.results if step.observation else []) if calls else {}
    for call in calls:
        conversation.steps.append(
            Step(index=conversation.turns, command=_command(call), output=answers[call.tool_call_id])
        )


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
        feedback = _feedback(results)
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


def _feedback(results: list[AtifResult]) -> str:
    return "\n".join(text for text in (_text(result.content) for result in results) if text)


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
