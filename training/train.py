"""Supervised fine-tuning on repair trajectories with TRL's SFT trainer.

    python training/train.py --config configs/train/qwen3-8b.yaml [key.path=value ...]
    cligym train --config configs/train/qwen3-8b.yaml [key.path=value ...]
    accelerate launch --config_file configs/train/accelerate_zero3.yaml training/train.py \\
        --config configs/train/qwen3-32b.yaml                      # several GPUs / nodes

The dataset is a `cligym dataset` output (conversations with tool calls and a ``tools`` column). Loss is on
assistant tokens only (system, user and tool outputs masked), through the tokenizer's chat template with the
tools. Samples longer than ``max_length`` are dropped before training and counted, never cut silently.
Checks that fail in seconds rather than hours: the dataset has the messages column, the chat template
renders tool calls, and ``max_length`` leaves room beyond the system prompt.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cligym.errors import CligymError, ConfigError
from cligym.training.config import TrainConfig, load_train_config

TOOL_CALL_PROBE = "cligym-template-probe --check"


@dataclass(frozen=True)
class PreparedData:
    train: Any  # datasets.Dataset of input_ids and labels
    eval: Any | None
    dropped_too_long: int
    longest_kept: int
    conversations: Any  # the train split as conversations, before tokenizing


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


def conversational_view(split: Any, config: TrainConfig) -> Any:
    """Only the columns the trainer reads: ``messages`` (from ``messages_field``) and ``tools``."""
    if config.messages_field not in split.column_names:
        raise ConfigError(
            f"dataset {config.dataset!r} has no {config.messages_field!r} column (columns: {split.column_names})",
            "build it with `cligym dataset RUN --out DIR` or set messages_field",
        )
    keep = [config.messages_field] + ([config.tools_field] if config.tools_field in split.column_names else [])
    view = split.select_columns(keep)
    if config.messages_field != "messages":
        view = view.rename_column(config.messages_field, "messages")
    if config.tools_field and config.tools_field in keep and config.tools_field != "tools":
        view = view.rename_column(config.tools_field, "tools")
    return view


def row_tools(row: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = row.get("tools")
    if isinstance(tools, str):
        tools = json.loads(tools) if tools.strip() else None
    return tools or None


def render(tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
    return str(tokenizer.apply_chat_template(clean_messages(messages), tools=tools, tokenize=False))


def token_count(tokenizer: Any, row: dict[str, Any]) -> int:
    ids = tokenizer.apply_chat_template(clean_messages(row["messages"]), tools=row_tools(row), tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return len(ids)


def clean_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Arrow stores every key in every message; templates test for presence, so empty ones go."""
    cleaned = []
    for message in messages:
        kept = {key: value for key, value in message.items() if value not in (None, "", [])}
        kept.setdefault("content", "")
        for call in kept.get("tool_calls") or []:
            function = call.get("function") or {}
            if isinstance(function.get("arguments"), str):
                with contextlib.suppress(json.JSONDecodeError):
                    function["arguments"] = json.loads(function["arguments"])
        cleaned.append(kept)
    return cleaned


def check_template(tokenizer: Any, config: TrainConfig) -> None:
    """The template must render tool calls (unless training on the plain-text variant) and ``max_length``
    must leave room beyond the system prompt."""
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"the tokenizer of {config.tokenizer or config.model} has no chat template",
            "set chat_template: to a Jinja file, or use a chat model's tokenizer",
        )
    if config.messages_field == "messages":
        probe: list[dict[str, Any]] = [
            {"role": "user", "content": "probe"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": "bash", "arguments": {"command": TOOL_CALL_PROBE}},
                    }
                ],
            },
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


def check_system_prompt(tokenizer: Any, split: Any, config: TrainConfig) -> None:
    first = split[0]
    system = [message for message in clean_messages(first["messages"])[:1] if message.get("role") == "system"]
    if not system:
        return
    length = token_count(tokenizer, {"messages": system, "tools": first.get("tools")})
    if length >= config.max_length:
        raise ConfigError(
            f"max_length {config.max_length} is not larger than the system prompt and tools ({length} tokens)",
            "raise max_length (trajectories need room for several turns beyond it)",
        )


def training_template(tokenizer: Any, config: TrainConfig) -> str:
    """The template to tokenize with: for assistant-only loss it needs ``{% generation %}`` markers, which TRL
    can add to the templates of known model families (Qwen3, Llama, ...)."""
    template = str(tokenizer.chat_template)
    if not config.assistant_only_loss or re.search(r"\{%-?\s*generation\s*-?%\}", template):
        return template
    from trl.chat_template_utils import get_training_chat_template

    try:
        patched = get_training_chat_template(tokenizer)
    except Exception as exc:  # TRL raises plain errors for templates it does not know
        patched = None
        reason = f" ({exc})"
    else:
        reason = ""
    if not patched:
        raise ConfigError(
            f"the chat template has no {{% generation %}} markers, so assistant tokens cannot be told apart{reason}",
            "add {% generation %}...{% endgeneration %} around assistant turns (chat_template: FILE), "
            "or set assistant_only_loss: false",
        )
    return str(patched)


def tokenize_split(tokenizer: Any, split: Any, config: TrainConfig, template: str) -> tuple[Any, list[int]]:
    """``input_ids`` and ``labels`` (-100 outside assistant turns when assistant-only), and every length.

    Tokenized here rather than inside TRL: the same pass measures each sample for the length policy, and the
    tool-call arguments are handed to the template as objects, as model templates expect.
    """
    import datasets

    rows: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
    lengths = []
    for row in split:
        encoded = tokenizer.apply_chat_template(
            clean_messages(row["messages"]),
            tools=row_tools(row),
            chat_template=template,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=config.assistant_only_loss,
        )
        ids = list(encoded["input_ids"])
        if config.assistant_only_loss:
            mask = list(encoded["assistant_masks"])
            labels = [token if bit else -100 for token, bit in zip(ids, mask, strict=True)]
        else:
            labels = list(ids)
        rows["input_ids"].append(ids)
        rows["labels"].append(labels)
        lengths.append(len(ids))
    return datasets.Dataset.from_dict(rows), lengths


def drop_too_long(tokenized: Any, lengths: list[int], config: TrainConfig) -> tuple[Any, int, int]:
    """The samples up to ``max_length`` tokens; how many went; the longest kept."""
    keep = [index for index, length in enumerate(lengths) if length <= config.max_length]
    dropped = len(lengths) - len(keep)
    if dropped and config.too_long == "error":
        raise ConfigError(
            f"{dropped} samples are longer than max_length {config.max_length} (longest {max(lengths)} tokens)",
            "raise max_length, or set too_long: drop",
        )
    if not keep:
        raise ConfigError(
            f"every sample is longer than max_length {config.max_length} (shortest {min(lengths)} tokens)",
            "raise max_length",
        )
    return tokenized.select(keep), dropped, max(lengths[index] for index in keep)


def prepare_data(tokenizer: Any, config: TrainConfig) -> PreparedData:
    """Load, check, tokenize with the loss mask, and apply the length policy to both splits."""
    train, evaluation = load_dataset_splits(config)
    train = conversational_view(train, config)
    if len(train) == 0:
        raise ConfigError(f"the {config.train_split!r} split of {config.dataset!r} is empty")
    check_template(tokenizer, config)
    check_system_prompt(tokenizer, train, config)
    template = training_template(tokenizer, config)
    tokenized, lengths = tokenize_split(tokenizer, train, config, template)
    train_ids, dropped, longest = drop_too_long(tokenized, lengths, config)
    eval_ids = None
    if evaluation is not None and len(evaluation):
        tokenized, lengths = tokenize_split(tokenizer, conversational_view(evaluation, config), config, template)
        eval_ids, eval_dropped, _ = drop_too_long(tokenized, lengths, config)
        dropped += eval_dropped
    return PreparedData(
        train=train_ids, eval=eval_ids, dropped_too_long=dropped, longest_kept=longest, conversations=train
    )


def load_tokenizer(config: TrainConfig) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.tokenizer or config.model)
    if config.chat_template:
        template = Path(config.chat_template)
        if not template.is_file():
            raise ConfigError(f"chat_template {template} does not exist")
        tokenizer.chat_template = template.read_text()
    return tokenizer


def load_model(config: TrainConfig) -> Any:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    model_config = AutoConfig.from_pretrained(config.model)
    if config.rope_scaling is not None:
        model_config.rope_scaling = config.rope_scaling
    kwargs: dict[str, Any] = {"config": model_config, "dtype": torch.bfloat16 if config.bf16 else torch.float32}
    if config.attn_implementation:
        kwargs["attn_implementation"] = config.attn_implementation
    return AutoModelForCausalLM.from_pretrained(config.model, **kwargs)


def sft_config(config: TrainConfig, has_eval: bool) -> Any:
    import dataclasses

    from trl import SFTConfig

    # transformers 5 folded warmup_ratio into warmup_steps (a float below 1 is a ratio); 4.x has both.
    fields = {field.name for field in dataclasses.fields(SFTConfig)}
    warmup: dict[str, Any] = (
        {"warmup_ratio": config.warmup_ratio}
        if "warmup_ratio" in fields
        else {"warmup_steps": config.warmup_ratio if config.warmup_ratio > 0 else 0}
    )
    return SFTConfig(
        **warmup,
        output_dir=config.output_dir,
        max_length=config.max_length,
        # The labels are built in prepare_data (assistant-only when asked), which TRL keeps as they are.
        assistant_only_loss=False,
        packing=config.packing,
        bf16=config.bf16,
        gradient_checkpointing=config.gradient_checkpointing,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler_type,
        weight_decay=config.weight_decay,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_train_batch_size,
        per_device_eval_batch_size=config.per_device_eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        eval_strategy=("steps" if config.eval_steps else "epoch") if has_eval else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps" if config.save_steps else "epoch",
        save_steps=config.save_steps or 500,
        save_total_limit=config.save_total_limit,
        logging_steps=config.logging_steps,
        seed=config.seed,
        deepspeed=config.deepspeed,
        report_to=config.report_to,
        push_to_hub=config.push_to_hub,
        hub_model_id=config.hub_model_id,
        hub_private_repo=config.hub_private_repo,
    )


def build_trainer(config: TrainConfig, model: Any = None, tokenizer: Any = None) -> tuple[Any, PreparedData]:
    """The SFT trainer over the prepared data; ``model``/``tokenizer`` may be given (tests build tiny ones)."""
    from trl import SFTTrainer

    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config)
    data = prepare_data(tokenizer, config)
    model = model if model is not None else load_model(config)
    peft_config = None
    if config.lora.enabled:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora.r,
            lora_alpha=config.lora.alpha,
            lora_dropout=config.lora.dropout,
            target_modules=config.lora.target_modules,
            task_type="CAUSAL_LM",
        )
    trainer = SFTTrainer(
        model=model,
        args=sft_config(config, data.eval is not None),
        train_dataset=data.train,
        eval_dataset=data.eval,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    return trainer, data


def train(config: TrainConfig, model: Any = None, tokenizer: Any = None) -> Any:
    """Train, save the final model (and push it when asked); returns the trainer."""
    trainer, data = build_trainer(config, model, tokenizer)
    print(
        f"training on {len(data.train)} samples ({data.dropped_too_long} dropped as longer than "
        f"{config.max_length} tokens; longest kept {data.longest_kept}); "
        f"evaluating on {len(data.eval) if data.eval is not None else 0}",
        flush=True,
    )
    resume = config.resume_from_checkpoint
    if resume is True and not any(Path(config.output_dir).glob("checkpoint-*")):
        resume = None  # nothing to resume yet: a fresh start, as a re-submitted job expects
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(config.output_dir)
    if config.push_to_hub:
        trainer.push_to_hub()
    return trainer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="configs/train/NAME.yaml")
    parser.add_argument("overrides", nargs="*", help="key.path=value, e.g. learning_rate=1e-5 lora.enabled=true")
    args = parser.parse_args(argv)
    try:
        config = load_train_config(args.config, args.overrides)
        train(config)
    except CligymError as error:
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
