"""The training configuration (``configs/train/NAME.yaml`` plus ``key.path=value`` overrides), checked before
any model is loaded: a typo in a key or a value of the wrong kind is one clear line, not a stack trace an
hour into a job."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cligym.errors import ConfigError
from cligym.settings import merge_mappings, parse_override


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSettings(_Strict):
    enabled: bool = False
    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = Field("all-linear", description="peft target_modules.")


class TrainConfig(_Strict):
    """Everything one fine-tuning run needs; field names follow transformers/TRL where they map directly."""

    model: str = Field(description="Model path or Hugging Face Hub id.")
    tokenizer: str | None = Field(None, description="Tokenizer path or id; null: the model's.")
    chat_template: str | None = Field(None, description="A Jinja chat template file replacing the tokenizer's.")
    dataset: str = Field(description="A `cligym dataset` output (DIR/chat/hf), a save_to_disk dir, or a Hub id.")
    train_split: str = "train"
    eval_split: str | None = Field("validation", description="null: no evaluation.")
    messages_field: str = Field("messages", description="messages, or messages_text for templates without tools.")
    tools_field: str | None = Field("tools", description="Column with the tool schemas; null: none.")
    output_dir: str
    max_length: int = Field(32768, gt=0, description="Tokens per sample; longer samples are dropped, not cut.")
    too_long: Literal["drop", "error"] = Field("drop", description="What to do with samples above max_length.")
    assistant_only_loss: bool = Field(True, description="Loss on assistant tokens only (tool outputs masked).")
    packing: bool = False
    bf16: bool = True
    gradient_checkpointing: bool = True
    lora: LoraSettings = Field(default_factory=LoraSettings)
    rope_scaling: dict[str, Any] | None = Field(
        None,
        description="Merged into the model's RoPE parameters, e.g. {rope_type: yarn}; YaRN's factor and "
        "original_max_position_embeddings default to the family's pretrained positions and max_length.",
    )
    attn_implementation: str | None = Field(
        None, description="e.g. flash_attention_2 (falls back to sdpa without flash-attn or a GPU); null: default."
    )
    sequence_parallel_size: int = Field(
        1, ge=1, description="GPUs sharing each sample along the sequence (DeepSpeed Ulysses; needs ZeRO)."
    )
    activation_offloading: bool = Field(False, description="Checkpointed activations kept in CPU memory (TRL).")
    use_liger_kernel: bool = Field(False, description="Liger kernels: the loss without full logits (liger-kernel).")
    learning_rate: float = Field(2e-5, gt=0)
    lr_scheduler_type: str = "cosine"
    warmup_ratio: float = Field(0.05, ge=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    num_train_epochs: float = Field(3.0, gt=0)
    max_steps: int = Field(-1, description="Overrides epochs when > 0.")
    per_device_train_batch_size: int = Field(1, gt=0)
    per_device_eval_batch_size: int = Field(1, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    eval_steps: int | None = Field(None, gt=0, description="null: evaluate once per epoch.")
    save_steps: int | None = Field(None, gt=0, description="null: save once per epoch.")
    save_total_limit: int | None = 3
    logging_steps: int = Field(10, gt=0)
    seed: int = 42
    resume_from_checkpoint: bool | str | None = Field(
        None, description="true: the newest checkpoint in output_dir; a path: that one."
    )
    deepspeed: str | None = Field(None, description="A DeepSpeed JSON config (ZeRO-3 for the 32B recipe).")
    report_to: str | list[str] = "none"
    push_to_hub: bool = False
    hub_model_id: str | None = None
    hub_private_repo: bool = True


def load_train_config(path: Path | None, overrides: list[str]) -> TrainConfig:
    """The config file merged with ``key.path=value`` overrides; relative paths stay as the user wrote them."""
    data: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"training config {path} does not exist", "see configs/train/ for examples")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        data = loaded
    for override in overrides:
        data = merge_mappings(data, parse_override(override))
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(
            f"{path or 'training config'}: {problems}", "fix the file or the key=value override"
        ) from None
