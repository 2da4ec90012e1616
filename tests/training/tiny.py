"""Tiny stand-ins for a chat model, built here on CPU: a BPE tokenizer with a Qwen-style tool-aware template, a
small dataset of repair conversations in `cligym dataset`'s shape, and tiny Qwen3 configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SPECIAL = ["<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<pad>"]
# Qwen-style, with the {% generation %} markers transformers uses for the assistant-token mask.
TEMPLATE = """
{%- if messages[0].role == 'system' or tools %}<|im_start|>system
{% if messages[0].role == 'system' %}{{ messages[0].content }}{% endif %}
{%- if tools %}
# Tools
{% for tool in tools %}{{ tool | tojson }}
{% endfor %}{% endif %}<|im_end|>
{% endif %}
{%- for message in messages %}
{%- if message.role == 'user' %}<|im_start|>user
{{ message.content }}<|im_end|>
{% elif message.role == 'assistant' %}<|im_start|>assistant
{% generation %}{{ message.content }}
{%- for call in message.tool_calls or [] %}<tool_call>TOOL_CALL_JSON</tool_call>
{%- endfor %}<|im_end|>{% endgeneration %}
{% elif message.role == 'tool' %}<|im_start|>tool
{{ message.content }}<|im_end|>
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}
""".strip().replace(
    "TOOL_CALL_JSON", '{{ {"name": call.function.name, "arguments": call.function.arguments} | tojson }}'
)
BASH_TOOL = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "Run a shell command.",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
    },
}


def conversation(index: int, repeats: int = 1) -> dict[str, Any]:
    """A repair episode: the task, commands with their outputs, and a closing answer; ``repeats`` makes it longer."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You repair broken environments."},
        {"role": "user", "content": f"Task {index}: the tests fail with ImportError: libsqlite3.so.0."},
    ]
    for turn in range(repeats):
        call_id = f"call_{index}_{turn}"
        command = {"command": f"ldconfig -p | grep sqlite  # step {turn}"}
        messages.append(
            {
                "role": "assistant",
                "content": "Checking the loader cache.",
                "tool_calls": [{"id": call_id, "type": "function", "function": {"name": "bash", "arguments": command}}],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "content": "exit code 0\nlibsqlite3.so.0"})
    messages.append({"role": "assistant", "content": "Restored the library; submit."})
    return {"messages": messages, "tools": [BASH_TOOL]}


def save_dataset(out: Path, lengths: list[int]) -> Path:
    """A DatasetDict with train and validation splits, one conversation per entry of ``lengths`` (repeats)."""
    import datasets

    rows = [conversation(index, repeats) for index, repeats in enumerate(lengths)]
    train = datasets.Dataset.from_list(rows)
    datasets.DatasetDict({"train": train, "validation": train.select([0])}).save_to_disk(str(out))
    return out


def byte_level_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """A BPE tokenizer trained on ``texts``, with the chat markers as special tokens and the tool template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<unk>", *SPECIAL], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(texts * 3, trainer)
    bpe.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<pad>", unk_token="<unk>", chat_template=TEMPLATE
    )


def save_tokenizer(out: Path) -> Any:
    texts = [str(message["content"]) for index in range(4) for message in conversation(index, 3)["messages"]]
    tokenizer = byte_level_tokenizer([*texts, TEMPLATE], vocab_size=400)
    tokenizer.save_pretrained(out)
    return tokenizer


def qwen3_config(vocab_size: int, **changes: Any) -> Any:
    from transformers import Qwen3Config

    values: dict[str, Any] = {
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "max_position_embeddings": 4096,
        "rope_theta": 1_000_000.0,
    }
    return Qwen3Config(**(values | changes))
