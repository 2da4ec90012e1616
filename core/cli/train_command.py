"""`cligym train --config configs/train/NAME.yaml [key=value ...]`: training/train.py through the CLI."""

from __future__ import annotations

from pathlib import Path

import typer

EXAMPLES = """
Examples:

  cligym train --config configs/train/smoke.yaml model=Qwen/Qwen3-0.6B dataset=runs/demo-dataset/chat/hf

  cligym train --config configs/train/qwen3-8b.yaml lora.enabled=true learning_rate=1e-4

  cligym train --config configs/train/qwen3-32b.yaml --dry-run --gpus 16     (memory per GPU, nothing trained)

  accelerate launch --config_file configs/train/accelerate_zero3.yaml --num_processes 16 \\
      training/train.py --config configs/train/qwen3-32b.yaml        (several GPUs: run the script itself)
"""


def train_command(
    config: Path = typer.Option(..., "--config", help="A training config (configs/train/NAME.yaml)."),
    overrides: list[str] | None = typer.Argument(None, help="key.path=value overrides, e.g. learning_rate=1e-5."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Read the config and dataset, print memory per GPU; refuse a run that cannot fit."
    ),
    gpus: int = typer.Option(1, "--gpus", min=1, help="GPUs of the planned run (--dry-run)."),
    gpu_memory: float = typer.Option(80.0, "--gpu-memory", help="GB per GPU (--dry-run)."),
) -> None:
    """Supervised fine-tuning with TRL on a `cligym dataset` output (needs the train extra: cligym\\[train])."""
    try:
        from cligym.training.train import dry_run as plan_run
        from cligym.training.train import train
    except ImportError as exc:
        from cligym.errors import CligymError

        raise CligymError(f"training needs the [train] extra ({exc})", "pip install 'cligym[train]'") from None
    from cligym.training.config import load_train_config

    settings = load_train_config(config, overrides or [])
    if dry_run:
        if not plan_run(settings, gpus, gpu_memory):
            raise typer.Exit(3)
        return
    train(settings)
