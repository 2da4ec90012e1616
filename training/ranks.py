"""Which process of a distributed launch this is, so that messages are printed once, not once per GPU."""

from __future__ import annotations

import os


def global_rank() -> int:
    """The launcher's rank (torchrun, accelerate and deepspeed set ``RANK``; Slurm's srun sets ``SLURM_PROCID``)."""
    for variable in ("RANK", "SLURM_PROCID"):
        value = os.environ.get(variable, "")
        if value.isdigit():
            return int(value)
    return 0


def rank_zero_print(message: str) -> None:
    if global_rank() == 0:
        print(message, flush=True)
