"""The ``vllm serve`` flags a rollout needs for the model it serves.

In the tool action format every request carries ``tools`` with ``tool_choice: auto``, which vLLM refuses
(HTTP 400) unless it was started with ``--enable-auto-tool-choice --tool-call-parser NAME``; the parser is
the model family's (vLLM's tool-calling documentation). A reasoning model served with its reasoning parser
returns its thinking apart (``reasoning_content``), which trajectories keep. Flags the user passed win.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cligym.errors import CligymError

AUTO_TOOL_CHOICE = "--enable-auto-tool-choice"
TOOL_CALL_PARSER = "--tool-call-parser"
REASONING_PARSER = "--reasoning-parser"


@dataclass(frozen=True)
class FamilyParsers:
    family: str
    tool_call_parser: str
    reasoning_parser: str | None = None


# First match wins, so the more specific names come first. Matched against the model's name (a hub id or a
# directory's name) and, for a local directory, its config.json ``model_type``.
_FAMILIES: tuple[tuple[re.Pattern[str], FamilyParsers], ...] = tuple(
    (re.compile(pattern), parsers)
    for pattern, parsers in (
        (r"qwen3-?coder|qwen3_coder", FamilyParsers("Qwen3-Coder", "qwen3_coder")),
        (r"qwen3", FamilyParsers("Qwen3", "hermes", "qwen3")),
        (r"qwq", FamilyParsers("QwQ", "hermes", "deepseek_r1")),
        (r"qwen2", FamilyParsers("Qwen2.5", "hermes")),
        (r"hermes", FamilyParsers("Hermes", "hermes")),
        (r"llama-?4|llama4", FamilyParsers("Llama 4", "llama4_pythonic")),
        (r"llama-?3|llama3", FamilyParsers("Llama 3.x", "llama3_json")),
        (r"deepseek-?r1", FamilyParsers("DeepSeek-R1", "deepseek_v3", "deepseek_r1")),
        (r"deepseek-?v3|deepseek_v3", FamilyParsers("DeepSeek-V3", "deepseek_v3")),
        (r"glm-?4\.[56]|glm4_moe", FamilyParsers("GLM-4.5", "glm45", "glm45")),
        (r"mistral|mixtral|devstral|ministral", FamilyParsers("Mistral", "mistral")),
        (r"granite", FamilyParsers("Granite", "granite")),
        (r"internlm", FamilyParsers("InternLM", "internlm")),
    )
)


def family_parsers(model: str) -> FamilyParsers | None:
    """The parsers of ``model``'s family, from its name or its local config.json; None when unknown."""
    names = [Path(model.rstrip("/")).name.lower(), model.lower()]
    config = Path(model) / "config.json"
    if config.is_file():
        try:
            model_type = json.loads(config.read_text()).get("model_type")
        except (OSError, ValueError, AttributeError):
            model_type = None
        if isinstance(model_type, str):
            names.append(model_type.lower())
    for name in names:
        for pattern, parsers in _FAMILIES:
            if pattern.search(name):
                return parsers
    return None


def vllm_serve_args(
    model: str, user_args: Sequence[str], *, tool_calls: bool, tool_call_parser: str | None = None
) -> list[str]:
    """``user_args`` plus what the rollout needs: with ``tool_calls``, auto tool choice and a parser (the one
    given, else the family's); the family's reasoning parser when there is one. ``CligymError`` when tool
    calls are needed and no parser is known."""
    args = list(user_args)
    given = _flag_names(args)
    parsers = family_parsers(model)
    if TOOL_CALL_PARSER not in given and (tool_calls or tool_call_parser):
        parser = tool_call_parser or (parsers.tool_call_parser if parsers else None)
        if parser is None:
            raise CligymError(
                f"no tool-call parser is known for the model {model!r}: vLLM refuses tool calls without one",
                "name it with --tool-call-parser NAME (vLLM's tool-calling docs list one per model family: hermes, "
                "llama3_json, mistral, ...), or roll out with -o rollout.action_format=text",
            )
        args += [TOOL_CALL_PARSER, parser]
    if (tool_calls or TOOL_CALL_PARSER in _flag_names(args)) and AUTO_TOOL_CHOICE not in given:
        args.append(AUTO_TOOL_CHOICE)
    if parsers and parsers.reasoning_parser and REASONING_PARSER not in given:
        args += [REASONING_PARSER, parsers.reasoning_parser]
    return args


def _flag_names(args: Sequence[str]) -> set[str]:
    return {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}
