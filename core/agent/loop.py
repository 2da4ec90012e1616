"""The agent loop every stage shares: the model takes turns, each turn's actions run through the stage's tools,
and the loop ends when a tool says the work is finished, a budget runs out, the model server refuses the
conversation, or the stage's own end rule fires.

A stage (the inverter's session, the rollout's episode) supplies only its tools, its prompts and its end rule.
Every model reply is a turn, including replies with no action or a malformed one: those are answered with an
error the model can act on. ``ModelUnavailableError`` is not caught: the endpoint is gone, and whether that
ends one conversation or the whole run is the stage's decision (``end`` gives the loop's counts so far).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cligym.agent.text_format import TextAction, parse_text_reply
from cligym.llm.client import ChatClient, ChatReply, ModelRequestRejected, TokenUsage, ToolSpec
from cligym.llm.messages import ChatMessage, tool_message, user_message

EndReason = Literal["submitted", "step_limit", "token_limit", "time_limit", "model_error", "stopped"]


@dataclass(frozen=True)
class Limits:
    """What one conversation may spend."""

    max_steps: int
    max_total_tokens: int
    max_seconds: float


@dataclass
class ActionResult:
    """A tool's answer: what the model reads back, and what the stage records of it."""

    observation: str
    finished: bool = False
    error: str | None = None
    command: str | None = None
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0
    logged: str | None = None  # what the stage's record keeps, when it is not the observation


# A tool's implementation: its parsed JSON arguments in, its answer out.
Handler = Callable[[dict[str, Any]], ActionResult]
# Called once per action: the reply whose tokens it carries (None after a turn's first action), the tool
# call's id (None in the text format), the answer.
ActionRecorder = Callable[[ChatReply | None, str | None, ActionResult], None]
# Checked after every turn: a reason and detail to stop, or None.
EndRule = Callable[[], tuple[str, str] | None]


@dataclass
class LoopEnd:
    """How the conversation ended and what it cost."""

    reason: EndReason
    detail: str
    steps: int
    usage: TokenUsage
    model_seconds: float
    stage_reason: str = ""  # the end rule's own reason when ``reason`` is "stopped"


@dataclass
class AgentLoop:
    """One conversation. ``messages`` holds the prompts going in and the whole conversation coming out.

    ``text_format`` switches from tool calls to one fenced command per reply (``bash``) and ``DONE``
    (``submit``), for models served without tool-call parsing."""

    client: ChatClient
    messages: list[ChatMessage]
    tools: Sequence[ToolSpec]
    handlers: Mapping[str, Handler]
    limits: Limits
    no_action_nudge: str
    seed: int | None = None
    text_format: bool = False
    no_command_nudge: str = ""
    on_action: ActionRecorder | None = None
    end_rule: EndRule | None = None
    steps: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)
    model_seconds: float = 0.0

    def run(self) -> LoopEnd:
        started = time.monotonic()
        while True:
            limit = self._limit_reached(time.monotonic() - started)
            if limit is not None:
                return self.end(*limit)
            try:
                reply = self.client.complete(self.messages, () if self.text_format else self.tools, seed=self.seed)
            except ModelRequestRejected as exc:
                return self.end("model_error", f"the model server refused the conversation: {exc.message}")
            # Summed per reply rather than read off the client: conversations may share one client.
            self.steps += 1
            self.usage = self.usage + reply.usage
            self.model_seconds += reply.seconds
            finished = self._text_turn(reply) if self.text_format else self._tool_turn(reply)
            if finished:
                return self.end("submitted", "")
            if self.end_rule is not None and (stop := self.end_rule()) is not None:
                return self.end("stopped", stop[1], stage_reason=stop[0])

    def end(self, reason: EndReason, detail: str, stage_reason: str = "") -> LoopEnd:
        return LoopEnd(reason, detail, self.steps, self.usage, round(self.model_seconds, 2), stage_reason)

    def _limit_reached(self, seconds: float) -> tuple[EndReason, str] | None:
        limits = self.limits
        if self.steps >= limits.max_steps:
            return "step_limit", f"{limits.max_steps} model turns"
        if self.usage.total_tokens >= limits.max_total_tokens:
            return "token_limit", f"{limits.max_total_tokens} tokens"
        if seconds >= limits.max_seconds:
            return "time_limit", f"{limits.max_seconds:g} s"
        return None

    def _tool_turn(self, reply: ChatReply) -> bool:
        self.messages.append(reply.message.with_safe_arguments())
        calls = reply.message.tool_calls
        if not calls:
            self._record(reply, None, ActionResult(self.no_action_nudge, error="no tool call"))
            self.messages.append(user_message(self.no_action_nudge))
            return False
        for position, call in enumerate(calls):
            turn_reply = reply if position == 0 else None  # a turn's tokens are counted once
            result = self._dispatch(call.name, call.parsed_arguments, call.id)
            self._record(turn_reply, call.id, result)
            self.messages.append(tool_message(call.id, result.observation))
            if result.finished:
                return True
        return False

    def _text_turn(self, reply: ChatReply) -> bool:
        content = reply.message.content or ""
        self.messages.append(
            ChatMessage(role="assistant", content=content, reasoning_content=reply.message.reasoning_content)
        )
        action = parse_text_reply(content)
        if action is None:
            self._record(reply, None, ActionResult(self.no_command_nudge, error="no command block"))
            self.messages.append(user_message(self.no_command_nudge))
            return False
        result = self._dispatch(action.tool, lambda: action.arguments, None)
        if result.finished:
            self._record(reply, None, result)
            return True
        result.observation += _extra_blocks_note(action)
        self._record(reply, None, result)
        self.messages.append(user_message(result.observation))
        return False

    def _dispatch(self, name: str, arguments: Callable[[], dict[str, Any]], call_id: str | None) -> ActionResult:
        handler = self.handlers.get(name)
        if handler is None:
            problem = f"error: there is no tool {name!r}; the tools are {', '.join(self.handlers)}"
            return ActionResult(problem, error=problem)
        try:
            parsed = arguments()
        except ValueError as exc:
            problem = f"error: {exc}; send the arguments as a JSON object"
            return ActionResult(problem, error=problem)
        return handler(parsed)

    def _record(self, reply: ChatReply | None, call_id: str | None, result: ActionResult) -> None:
        if self.on_action is not None:
            self.on_action(reply, call_id, result)


def _extra_blocks_note(action: TextAction) -> str:
    if action.extra_blocks:
        return "\n(only the first code block was run; send one command per reply)"
    return ""
