"""Supervised fine-tuning on repair trajectories with TRL's SFT trainer.

    python training/train.py --config configs/train/qwen3-8b.yaml [key.path=value ...]
    python training/train.py --config configs/train/qwen3-32b.yaml --dry-run --gpus 16   # memory per GPU
    cligym train --config configs/train/qwen3-8b.yaml [key.path=value ...]
    accelerate launch --config_file configs/train/accelerate_zero3.yaml training/train.py \\
        --config configs/train/qwen3-32b.yaml                      # several GPUs / nodes

The dataset is a `cligym dataset` output (conversations with tool calls and a ``tools`` column). Loss is on
assistant tokens only (system, user and tool outputs masked): TRL's own assistant-only loss, through the
tokenizer's chat template with the tools. Samples longer than ``max_length`` are dropped before training and
counted, never cut silently. ``--dry-run`` reads the config and the dataset, builds the model on the meta
device and prints the memory each GPU needs, refusing a run that cannot fit.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from cligym.errors import CligymError, ConfigError
from cligym.training.config import TrainConfig, load_train_config
from cligym.training.data import PreparedData, load_tokenizer, prepare_data
from cligym.training.ranks import rank_zero_print

DEFAULT_GPU_MEMORY_GB = 80.0


def check_packages(config: TrainConfig) -> None:
    """Optional packages a setting needs, named before anything is loaded."""
    needed = [
        (bool(config.deepspeed), "deepspeed", "cligym[deepspeed]", "deepspeed:"),
        (config.use_liger_kernel, "liger_kernel", "cligym[liger]", "use_liger_kernel: true"),
    ]
    for wanted, module, extra, setting in needed:
        if wanted and importlib.util.find_spec(module) is None:
            raise ConfigError(f"{setting} needs the {module} package", f"pip install '{extra}'")
    if config.sequence_parallel_size > 1 and not config.deepspeed:
        raise ConfigError(
            f"sequence_parallel_size {config.sequence_parallel_size} runs on DeepSpeed (Ulysses)",
            "set deepspeed: configs/train/deepspeed_zero3.json, or sequence_parallel_size: 1",
        )


def parallelism_config(config: TrainConfig) -> Any:
    """DeepSpeed Ulysses sequence parallelism (accelerate's ParallelismConfig), or None for plain data parallel."""
    if config.sequence_parallel_size == 1:
        return None
    from accelerate.parallelism_config import ParallelismConfig
    from accelerate.utils import DeepSpeedSequenceParallelConfig

    handler = DeepSpeedSequenceParallelConfig(
        sp_seq_length_is_variable=True, sp_attn_implementation=config.attn_implementation or "sdpa"
    )
    return ParallelismConfig(sp_backend="deepspeed", sp_size=config.sequence_parallel_size, sp_handler=handler)


def sft_config(config: TrainConfig, has_eval: bool) -> Any:
    """TRL's arguments. Building them is what makes a DeepSpeed ZeRO-3 configuration live (transformers keeps a
    reference to it), so they come before the model."""
    from trl import SFTConfig

    # transformers 5 folded warmup_ratio into warmup_steps (a float below 1 is a ratio); 4.x has both.
    fields = {field.name for field in dataclasses.fields(SFTConfig)}
    renamed: dict[str, Any] = (
        {"warmup_ratio": config.warmup_ratio}
        if "warmup_ratio" in fields
        else {"warmup_steps": config.warmup_ratio if config.warmup_ratio > 0 else 0}
    )
    # transformers 5.x renamed gradient checkpointing to activation checkpointing (the old name warns).
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    renamed[checkpointing] = config.gradient_checkpointing
    return SFTConfig(
        **renamed,
        output_dir=config.output_dir,
        # Every sample already fits (prepare_data dropped the longer ones), so TRL never truncates.
        max_length=config.max_length,
        assistant_only_loss=config.assistant_only_loss,
        packing=config.packing,
        activation_offloading=config.activation_offloading,
        use_liger_kernel=config.use_liger_kernel,
        parallelism_config=parallelism_config(config),
        bf16=config.bf16,
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

    from cligym.training.model import load_model

    check_packages(config)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config)
    data = prepare_data(tokenizer, config)
    arguments = sft_config(config, data.eval is not None)
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
        args=arguments,
        train_dataset=data.train,
        eval_dataset=data.eval,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    return trainer, data


def train(config: TrainConfig, model: Any = None, tokenizer: Any = None) -> Any:
    """Train, save the final model (and push it when asked); returns the trainer."""
    trainer, data = build_trainer(config, model, tokenizer)
    rank_zero_print(
        f"training on {len(data.train)} samples ({data.dropped_too_long} dropped as longer than "
        f"{config.max_length} tokens; longest kept {data.longest_kept}); "
        f"evaluating on {len(data.eval) if data.eval is not None else 0}"
    )
    resume = config.resume_from_checkpoint
    if resume is True and not any(Path(config.output_dir).glob("checkpoint-*")):
        resume = None  # nothing to resume yet: a fresh start, as a re-submitted job expects
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(config.output_dir)
    if config.push_to_hub:
        trainer.push_to_hub()
    return trainer


def dry_run(config: TrainConfig, gpus: int, gpu_memory_gb: float, tokenizer: Any = None) -> bool:
    """Print what the run would train on and the memory per GPU; False when it cannot fit."""
    from cligym.training.memory import fit_hints, memory_plan, model_shape
    from cligym.training.model import load_model_config, rope_theta_of

    check_packages(config)
    if config.sequence_parallel_size > 1 and gpus % config.sequence_parallel_size:
        raise ConfigError(
            f"{gpus} GPUs are not a multiple of sequence_parallel_size {config.sequence_parallel_size}",
            "plan a multiple of that many GPUs (--gpus), or a sequence_parallel_size dividing the GPU count",
        )
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config)
    data = prepare_data(tokenizer, config)
    model_config = load_model_config(config)
    shape = model_shape(model_config, config)
    plan = memory_plan(shape, config, gpus)
    lines = [
        f"model       {config.model}: {shape.parameters / 1e9:.2f}B parameters, "
        f"{shape.trainable / 1e9:.3f}B trained{' (LoRA)' if config.lora.enabled else ''}",
        f"positions   {model_config.max_position_embeddings}, rope_theta {rope_theta_of(model_config)}"
        + (f", scaling {config.rope_scaling}" if config.rope_scaling else ""),
        f"data        {len(data.train)} train samples, {data.dropped_too_long} dropped as longer than "
        f"{config.max_length} tokens, longest kept {data.longest_kept}",
        f"layout      {gpus} GPUs, ZeRO-{plan.zero_stage}, sequence parallel {plan.sequence_parallel}, "
        f"{plan.tokens_per_gpu} tokens per GPU per micro-batch",
        "memory per GPU (GB):",
        *(f"  {name:<16}{value:>8.1f}" for name, value in plan.parts_gb.items()),
        f"  {'total':<16}{plan.total_gb:>8.1f}  of {gpu_memory_gb:.0f}",
    ]
    rank_zero_print("\n".join(lines))
    if plan.total_gb <= gpu_memory_gb:
        rank_zero_print("fits")
        return True
    rank_zero_print(f"does not fit: {plan.total_gb:.1f} GB > {gpu_memory_gb:.0f} GB per GPU; try:")
    rank_zero_print("\n".join(f"  - {hint}" for hint in fit_hints(plan, config)))
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="configs/train/NAME.yaml")
    parser.add_argument("overrides", nargs="*", help="key.path=value, e.g. learning_rate=1e-5 lora.enabled=true")
    parser.add_argument("--dry-run", action="store_true", help="print memory per GPU and what would be trained on")
    parser.add_argument(
        "--gpus", type=int, default=int(os.environ.get("WORLD_SIZE", "1")), help="GPUs of the run (--dry-run)"
    )
    parser.add_argument("--gpu-memory", type=float, default=DEFAULT_GPU_MEMORY_GB, help="GB per GPU (--dry-run)")
    args = parser.parse_args(argv)
    try:
        config = load_train_config(args.config, args.overrides)
        if args.dry_run:
            return 0 if dry_run(config, args.gpus, args.gpu_memory) else 3
        train(config)
    except CligymError as error:
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
