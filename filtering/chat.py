"""One trajectory as one row of a chat dataset: the conversation with its tool calls for trainers whose chat
template knows tools (TRL's SFT trainer), the same conversation in plain text for templates that do not, and
metadata to slice the dataset by.

Columns (``CHAT_COLUMNS``):

- ``messages``: the conversation as the model was sent it, OpenAI-style. Every message carries every key
  (``role``, ``content``, ``reasoning_content``, ``tool_calls``, ``tool_call_id``, ``name``) with one type:
  strings are ``""`` rather than absent or None, and ``tool_calls`` is ``[]`` rather than absent. Arrow
  stores a list of messages as a list of structs with one schema for the whole column; given a mix of None
  and strings or of missing and present keys, it either fails to build the table or fills in nulls that
  change what a template renders. Tool-call ``arguments`` are objects, as templates that iterate over them or
  encode them (``| tojson``, Llama 3.1 style) expect; the column is the ``datasets`` ``Json`` type, so
  objects whose keys differ per tool keep their own keys through Arrow, parquet and JSON lines (a struct
  would merge them). Arguments that are not a JSON object stay the string the model sent. Consumers that want
  keys absent when empty drop them (as training/train.py does).
- ``tools``: the tool schemas as a JSON string, ``"null"`` when the episode had none (the text action format).
  TRL's trainers read a ``tools`` column and ``json.loads`` it when it is a string. A structured column would
  not round-trip: Arrow merges the schemas' ``properties`` across tools (``submit`` would gain a null
  ``command``), so the prompt trained on would differ from the one rolled out with. ``"null"`` rather than
  ``"[]"``: TRL hands the decoded value straight to the template, and some templates (Llama 3.x) render their
  tool preamble for an empty list.
- ``messages_text``: the conversation as the text action format would have had it (``role``/``content``
  only): each ``bash`` call becomes a fenced ```` ```bash ```` block in the assistant's text, ``submit`` the
  ``DONE`` line, tool results user messages; consecutive user messages are merged so roles alternate, which
  strict templates require. When the system prompt is cligym's own, its tool rules are swapped for the text
  format's, so the conversation never mentions tools it does not call. Any chat template renders it, and a
  model trained on it can be rolled out with ``action_format: text``.
- ``text``: the whole conversation as one string (``System:``/``User:``/``Assistant:`` sections, commands as
  fenced bash blocks, results as ``Output:`` blocks) for trainers without chat templates.
- metadata: ``episode_id``, ``task_id``, ``repo``, ``category``, ``model``, ``steps``, ``tokens``,
  ``reward``, ``source``, ``agent``, ``action_format``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from cligym.configs import CONFIG_DIR
from cligym.llm.messages import ChatMessage, ToolCall
from cligym.rollout.trajectory import Trajectory

CHAT_COLUMNS = (
    "messages",
    "tools",
    "messages_text",
    "text",
    "episode_id",
    "task_id",
    "repo",
    "category",
    "model",
    "steps",
    "tokens",
    "reward",
    "source",
    "agent",
    "action_format",
)
SUBMIT_TOOL = "submit"
BASH_TOOL = "bash"
# The text action format's finish signal (configs/prompts/rollout_action_text.md).
DONE = "DONE"
_PROMPTS = CONFIG_DIR / "prompts"

TurnKind = Literal["system", "user", "assistant", "output"]


@dataclass(frozen=True)
class _Turn:
    kind: TurnKind
    content: str


def chat_record(trajectory: Trajectory) -> dict[str, Any]:
    """The dataset row of one trajectory (see the module docstring for the columns)."""
    turns = plain_turns(trajectory.messages)
    return {
        "messages": normalise_messages(trajectory.messages),
        "tools": json.dumps(trajectory.tools) if trajectory.tools else "null",
        "messages_text": text_messages(turns),
        "text": render_text(turns),
        "episode_id": trajectory.episode_id,
        "task_id": trajectory.task_id,
        "repo": trajectory.repo,
        "category": trajectory.category,
        "model": trajectory.sampling.model,
        "steps": trajectory.totals.steps,
        "tokens": trajectory.totals.tokens,
        "reward": trajectory.reward,
        "source": trajectory.source,
        "agent": trajectory.agent,
        "action_format": trajectory.action_format,
    }


def normalise_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Every message with every key and one type per key; tool results get the name of the call they answer
    (some templates label tool output by name)."""
    call_names: dict[str, str] = {}
    normalised = []
    for message in messages:
        call_names.update((call.id, call.name) for call in message.tool_calls)
        call_id = message.tool_call_id or ""
        normalised.append(
            {
                "role": message.role,
                "content": message.text,
                "reasoning_content": message.reasoning_content or "",
                "tool_calls": [_tool_call(call) for call in message.tool_calls],
                "tool_call_id": call_id,
                "name": message.name or call_names.get(call_id, ""),
            }
        )
    return normalised


def _tool_call(call: ToolCall) -> dict[str, Any]:
    arguments: Any
    try:
        arguments = call.parsed_arguments()
    except ValueError:
        arguments = call.arguments
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


def plain_turns(messages: list[ChatMessage]) -> list[_Turn]:
    """The conversation without tools: calls as text in the assistant's turn, results as outputs.

    After the task statement nobody but the environment speaks to the agent, so later user messages (the
    text format's command results, the nudge after a turn without an action) are outputs too.
    """
    turns: list[_Turn] = []
    submit_ids: set[str] = set()
    seen_user = False
    for message in messages:
        role, content = message.role, message.text
        if role == "system":
            turns.append(_Turn("system", _text_format_system_prompt(content)))
        elif role == "user":
            turns.append(_Turn("output" if seen_user else "user", content))
            seen_user = True
        elif role == "assistant":
            parts = [content.strip()] if content.strip() else []
            for call in message.tool_calls:
                if call.name == SUBMIT_TOOL:
                    submit_ids.add(call.id)
                parts.append(_call_as_text(call))
            turns.append(_Turn("assistant", "\n\n".join(parts)))
        elif message.tool_call_id not in submit_ids:
            # A tool result; the text format has no reply to DONE: the episode ends there.
            turns.append(_Turn("output", content))
    return turns


def _call_as_text(call: ToolCall) -> str:
    if call.name == SUBMIT_TOOL:
        return DONE
    try:
        parsed = call.parsed_arguments()
    except ValueError:
        parsed = {}
    if call.name == BASH_TOOL and isinstance(parsed.get("command"), str):
        return fenced(parsed["command"], "bash")
    # Other agents' tools (Harbor imports): the call as its name and raw arguments, nothing invented.
    return fenced(call.arguments, call.name)


def fenced(body: str, language: str = "") -> str:
    """A Markdown code block that a run of backticks inside ``body`` cannot close early."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body.rstrip()}\n{fence}"


def text_messages(turns: list[_Turn]) -> list[dict[str, str]]:
    """``role``/``content`` messages; outputs become user messages merged with any user message next to them."""
    messages: list[dict[str, str]] = []
    for turn in turns:
        role = "user" if turn.kind == "output" else turn.kind
        if messages and role == "user" and messages[-1]["role"] == "user":
            messages[-1]["content"] += "\n\n" + turn.content
        else:
            messages.append({"role": role, "content": turn.content})
    return messages


def render_text(turns: list[_Turn]) -> str:
    sections = []
    for turn in turns:
        if turn.kind == "output":
            sections.append("Output:\n" + fenced(turn.content))
        else:
            sections.append(f"{turn.kind.capitalize()}:\n{turn.content.strip()}")
    return "\n\n".join(sections) + "\n"


def _text_format_system_prompt(content: str) -> str:
    tool_rules, text_rules = _action_rules()
    return content.replace(tool_rules, text_rules) if tool_rules and tool_rules in content else content


@cache
def _action_rules() -> tuple[str, str]:
    try:
        tool_rules = (_PROMPTS / "rollout_action_tool.md").read_text().strip()
        text_rules = (_PROMPTS / "rollout_action_text.md").read_text().strip()
    except OSError:  # an installation without the prompts: system prompts stay as they are
        return "", ""
    return tool_rules, text_rules
