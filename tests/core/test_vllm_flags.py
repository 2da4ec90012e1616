"""The flags `cligym rollout --serve vllm` starts vLLM with: tool calls need auto tool choice and the model
family's parser, reasoning models get their reasoning parser, and what the user passed wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cligym.errors import CligymError
from cligym.vllm_flags import family_parsers, vllm_serve_args


@pytest.mark.parametrize(
    ("model", "tool_parser", "reasoning_parser"),
    [
        ("Qwen/Qwen3-32B", "hermes", "qwen3"),
        ("/models/Qwen3-8B", "hermes", "qwen3"),
        ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen3_coder", None),
        ("Qwen/Qwen2.5-7B-Instruct", "hermes", None),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama3_json", None),
        ("mistralai/Mistral-Small-3.1-24B-Instruct-2503", "mistral", None),
        ("deepseek-ai/DeepSeek-R1", "deepseek_v3", "deepseek_r1"),
    ],
)
def test_the_family_is_found_from_the_models_name(model: str, tool_parser: str, reasoning_parser: str | None) -> None:
    parsers = family_parsers(model)
    assert parsers is not None and (parsers.tool_call_parser, parsers.reasoning_parser) == (
        tool_parser,
        reasoning_parser,
    )


def test_a_local_directory_without_a_telling_name_is_read_from_its_config(tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint-1200"
    checkpoint.mkdir()
    assert family_parsers(str(checkpoint)) is None
    (checkpoint / "config.json").write_text(json.dumps({"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"]}))
    parsers = family_parsers(str(checkpoint))
    assert parsers is not None and parsers.tool_call_parser == "hermes"


def test_tool_calls_get_auto_tool_choice_the_parser_and_the_reasoning_parser() -> None:
    args = vllm_serve_args("Qwen/Qwen3-8B", ["--max-model-len", "32768"], tool_calls=True)
    assert args == [
        "--max-model-len", "32768", "--tool-call-parser", "hermes", "--enable-auto-tool-choice",
        "--reasoning-parser", "qwen3",
    ]  # fmt: skip


def test_what_the_user_passed_wins_and_is_not_repeated() -> None:
    given = ["--tool-call-parser=pythonic", "--enable-auto-tool-choice", "--reasoning-parser", "deepseek_r1"]
    assert vllm_serve_args("Qwen/Qwen3-8B", given, tool_calls=True) == given
    named = vllm_serve_args("my-finetune", [], tool_calls=True, tool_call_parser="llama3_json")
    assert named == ["--tool-call-parser", "llama3_json", "--enable-auto-tool-choice"]


def test_the_text_format_needs_no_tool_flags() -> None:
    assert vllm_serve_args("meta-llama/Llama-3.1-8B-Instruct", [], tool_calls=False) == []
    assert vllm_serve_args("Qwen/Qwen3-8B", [], tool_calls=False) == ["--reasoning-parser", "qwen3"]


def test_an_unknown_family_in_tool_mode_is_refused_with_the_ways_out() -> None:
    with pytest.raises(CligymError, match="no tool-call parser is known") as info:
        vllm_serve_args("/models/checkpoint-1200", [], tool_calls=True)
    assert "--tool-call-parser" in (info.value.hint or "") and "action_format=text" in (info.value.hint or "")
