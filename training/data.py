"""The training data: a `cligym dataset` output loaded, checked against the chat template, measured in tokens and
filtered by the length policy, then handed to TRL as conversations (TRL tokenizes them and builds the
assistant-only labels itself).

Checks that fail in seconds rather than hours: the dataset has the messages column, the chat template renders
tool calls, the template can mark assistant tokens, and ``max_length`` leaves room beyond the system prompt.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cligym.errors import ConfigError
from cligym.training.config import TrainConfig

TOOL_CALL_PROBE = "cligym-template-probe --check"


@dataclass(frozen=True)
class PreparedData:
    train: Any  # datasets.Dataset of cleaned conversations (``messages``, ``tools``) within max_length
    eval: Any | None
    dropped_too_long: int
    longest_kept: int


def load_dataset_splits(config: TrainConfig) -> tuple[Any, Any | None]:
    """The train and eval splits from a save_to_disk directory (or its parent) or the Hub."""
    import datasets

    path = Path(config.dataset)
    try:
        if path.exists():
            location = path / "hf" if (path / "hf" / "dataset_dict.json").exists() else path
            loaded = datasets.load_from_disk(str(location))
        else:
            loaded = datasets.load_dataset(config.dataset)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise ConfigError(
            f"dataset {config.dataset!r} cannot be loaded: {exc}",
            "pass a `cligym dataset` output (DIR/chat/hf) or a Hub dataset id",
        ) from None
    if isinstance(loaded, datasets.Dataset):
        return loaded, None
    if config.train_split not in loaded:
        raise ConfigError(f"dataset {config.dataset!r} has no split {config.train_split!r} (has {list(loaded)})")
    evaluation = loaded[config.eval_split] if config.eval_split and config.eval_split in loaded else None
    return loaded[config.train_split], evaluation


def conversations_of(split: Any, config: TrainConfig) -> list[dict[str, Any]]:
    """Each row as ``{"messages": [...], "tools": [...] | None}`` with the keys templates test for presence only
    where they hold something (Arrow stores every key in every message)."""
    if config.messages_field not in split.column_names:
        raise ConfigError(
            f"dataset {config.dataset!r} has no {config.messages_field!r} column (columns: {split.column_names})",
            "build it with `cligym dataset RUN --out DIR` or set messages_field",
        )
    with_tools = bool(config.tools_field) and config.tools_field in split.column_names
    return [
        {
            "messages": clean_messages(row[config.messages_field]),
            "tools": row_tools(row[config.tools_field]) if with_tools else None,
        }
        for row in split
    ]


def row_tools(tools: Any) -> list[dict[str, Any]] | None:
    if isinstance(tools, str):
        tools = json.loads(tools) if tools.strip() else None
    return tools or None


def clean_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned = []
    for message in messages:
        kept = {key: value for key, value in message.items() if value not in (None, "", [])}
        kept.setdefault("content", "")
        for call in kept.get("tool_calls") or []:
            function = call.get("function") or {}
            # Older datasets stored arguments as JSON text; model templates iterate over them as objects.
            if isinstance(function.get("arguments"), str):
                with contextlib.suppress(json.JSONDecodeError):
                    function["arguments"] = json.loads(function["arguments"])
        cleaned.append(kept)
    return cleaned


def render(tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    return str(tokenizer.apply_chat_template(messages, tools=tools, tokenize=False))


def token_count(tokenizer: Any, conversation: dict[str, Any]) -> int:
    encoded = tokenizer.apply_chat_template(
        conversation["messages"], tools=conversation["tools"], tokenize=True, return_dict=True
    )
    return len(encoded["input_ids"])


def check_template(tokenizer: Any, config: TrainConfig) -> None:
    """The template must render tool calls (unless training on the plain-text variant)."""
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"the tokenizer of {config.tokenizer or config.model} has no chat template",
            "set chat_template: to a Jinja file, or use a chat model's tokenizer",
        )
    if config.messages_field != "messages":
        return
    call = {"id": "call_0", "type": "function", "function": {"name": "bash", "arguments": {"command": TOOL_CALL_PROBE}}}
    probe: list[dict[str, Any]] = [
        {"role": "user", "content": "probe"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_0", "content": "ok"},
    ]
    try:
        rendered = render(tokenizer, probe, None)
    except Exception as exc:  # jinja raises its own errors from inside the template
        raise ConfigError(
            f"the chat template fails on a tool call: {exc}",
            "use a template with tool support (the model's own), or messages_field: messages_text",
        ) from None
    if TOOL_CALL_PROBE not in rendered:
        raise ConfigError(
            "the chat template drops tool calls: an assistant's command would not be trained on",
            "use a template with tool support (the model's own), or messages_field: messages_text",
        )


def check_assistant_markers(tokenizer: Any, config: TrainConfig) -> None:
    """Assistant-only loss needs ``{% generation %}`` markers, which TRL adds to the templates of the model
    families it knows; any other template fails here, in seconds, with what to do."""
    template = str(tokenizer.chat_template)
    if not config.assistant_only_loss or re.search(r"\{%-?\s*generation\s*-?%\}", template):
        return
    from trl.chat_template_utils import get_training_chat_template

    try:
        patched = get_training_chat_template(tokenizer)
    except Exception as exc:  # TRL raises plain errors for templates it does not know
        patched, reason = None, f" ({exc})"
    else:
        reason = ""
    if not patched:
        raise ConfigError(
            f"the chat template has no {{% generation %}} markers, so assistant tokens cannot be told apart{reason}",
            "add {% generation %}...{% endgeneration %} around assistant turns (chat_template: FILE), "
            "or set assistant_only_loss: false",
        )


def check_system_prompt(tokenizer: Any, conversations: list[dict[str, Any]], config: TrainConfig) -> None:
    first = conversations[0]
    system = [message for message in first["messages"][:1] if message.get("role") == "system"]
    if not system:
        return
    length = token_count(tokenizer, {"messages": system, "tools": first["tools"]})
    if length >= config.max_length:
        raise ConfigError(
            f"max_length {config.max_length} is not larger than the system prompt and tools ({length} tokens)",
            "raise max_length (trajectories need room for several turns beyond it)",
        )


def within_max_length(
    tokenizer: Any, conversations: list[dict[str, Any]], config: TrainConfig
) -> tuple[list[dict[str, Any]], list[int]]:
    """The conversations up to ``max_length`` tokens (dropped, never cut: a cut trajectory teaches a repair
    that stops half-way) and every conversation's length."""
    lengths = [token_count(tokenizer, conversation) for conversation in conversations]
    pairs = zip(conversations, lengths, strict=True)
    kept = [conversation for conversation, length in pairs if length <= config.max_length]
    dropped = len(conversations) - len(kept)
    if dropped and config.too_long == "error":
        raise ConfigError(
            f"{dropped} samples are longer than max_length {config.max_length} (longest {max(lengths)} tokens)",
            "raise max_length, or set too_long: drop",
        )
    if not kept:
        raise ConfigError(
            f"every sample is longer than max_length {config.max_length} (shortest {min(lengths)} tokens)",
            "raise max_length",
        )
    return kept, lengths


def as_dataset(conversations: list[dict[str, Any]]) -> Any:
    """Conversations as a dataset whose rows read back exactly as given: the ``Json`` type keeps each
    message's own keys, where a struct column would give every message every key again."""
    import datasets

    features = datasets.Features({"messages": datasets.Json(), "tools": datasets.Json()})
    columns = {
        "messages": [conversation["messages"] for conversation in conversations],
        "tools": [conversation["tools"] for conversation in conversations],
    }
    return datasets.Dataset.from_dict(columns, features=features)


def prepare_data(tokenizer: Any, config: TrainConfig) -> PreparedData:
    """Load, check, and apply the length policy to both splits."""
    train_split, eval_split = load_dataset_splits(config)
    train = conversations_of(train_split, config)
    if not train:
        raise ConfigError(f"the {config.train_split!r} split of {config.dataset!r} is empty")
    check_template(tokenizer, config)
    check_assistant_markers(tokenizer, config)
    check_system_prompt(tokenizer, train, config)
    kept, lengths = within_max_length(tokenizer, train, config)
    dropped = len(train) - len(kept)
    longest = max(length for length in lengths if length <= config.max_length)
    evaluation = None
    if eval_split is not None and len(eval_split):
        eval_kept, eval_lengths = within_max_length(tokenizer, conversations_of(eval_split, config), config)
        dropped += len(eval_lengths) - len(eval_kept)
        evaluation = as_dataset(eval_kept)
    return PreparedData(train=as_dataset(kept), eval=evaluation, dropped_too_long=dropped, longest_kept=longest)


def load_tokenizer(config: TrainConfig) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(config.tokenizer or config.model)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"tokenizer {config.tokenizer or config.model!r} cannot be loaded: {exc}",
            "set tokenizer: to a local path or a Hub id you can download",
        ) from None
    if config.chat_template:
        template = Path(config.chat_template)
        if not template.is_file():
            raise ConfigError(f"chat_template {template} does not exist")
        tokenizer.chat_template = template.read_text()
    return tokenizer
