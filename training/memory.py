"""How much GPU memory a run needs per GPU, from the model's configuration alone (built on the meta device: no
weights are read), before a multi-node job is launched to find out.

The model, per GPU, in bytes (Ψ parameters, N GPUs, ZeRO stage s, T tokens per GPU per micro-batch):
- weights: 2Ψ in bf16 (4Ψ in fp32), divided by N under ZeRO-3; ZeRO-3 also gathers the layers being computed
  (two layers' weights at once: the current one and the prefetched next one);
- gradients: as the weights, divided by N under ZeRO-2 and 3;
- optimizer: AdamW under DeepSpeed keeps an fp32 master copy and two fp32 moments, 12 bytes per trained
  parameter, divided by N under ZeRO-1 and up (zero on the GPU when offloaded to the CPU); without DeepSpeed,
  two moments in the weights' dtype;
- activations, with gradient checkpointing: each layer's input kept (L·T·h values, on the CPU when offloaded)
  plus one layer recomputed with its gradients; without it, every layer's intermediate values. A layer's
  values per token: q and attention output (2·heads·head_dim), k and v (2·kv_heads·head_dim), the output
  projection and two norms (3·h), the MLP's gate, up, activation and product (4·intermediate);
- logits: T·vocab in bf16, their fp32 copy for the loss and its gradient (10 bytes per entry), unless the loss is
  fused with the output layer (Liger, or the tiled loss under DeepSpeed sequence parallelism), where only a
  chunk of tokens is held at once.
Sequence parallelism over S GPUs divides T by S. The CUDA context and allocator slack are a fixed reserve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cligym.errors import ConfigError
from cligym.training.config import TrainConfig

GB = 1e9
CUDA_RESERVE_GB = 3.0  # CUDA context, NCCL buffers and allocator fragmentation, per GPU
FUSED_LOSS_CHUNK_TOKENS = 1024  # tokens whose logits a fused/tiled loss holds at once
ACTIVATION_BYTES = 2  # bf16 activations (mixed precision keeps them in half precision)


@dataclass(frozen=True)
class ModelShape:
    parameters: int
    trainable: int
    layers: int
    hidden: int
    intermediate: int
    attention_width: int  # heads x head_dim
    kv_width: int  # kv heads x head_dim
    vocab: int
    largest_layer_parameters: int


@dataclass(frozen=True)
class MemoryPlan:
    gpus: int
    zero_stage: int
    sequence_parallel: int
    tokens_per_gpu: int
    parts_gb: dict[str, float]  # weights, gathered, gradients, optimizer, activations, logits, reserve

    @property
    def total_gb(self) -> float:
        return sum(self.parts_gb.values())


def deepspeed_settings(config: TrainConfig) -> tuple[int, bool]:
    """The ZeRO stage and whether the optimizer lives on the CPU, from the DeepSpeed JSON (stage 0 without)."""
    if not config.deepspeed:
        return 0, False
    path = Path(config.deepspeed)
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"deepspeed config {path} cannot be read: {exc}", "point deepspeed: at a JSON file") from None
    zero = settings.get("zero_optimization") or {}
    offload = (zero.get("offload_optimizer") or {}).get("device") in ("cpu", "nvme")
    return int(zero.get("stage", 0)), offload


def model_shape(model_config: Any, config: TrainConfig) -> ModelShape:
    """Parameter counts from the model built on the meta device, and the sizes activations scale with."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    text = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    layers = model.model.layers if hasattr(model, "model") and hasattr(model.model, "layers") else []
    largest = max((sum(p.numel() for p in layer.parameters()) for layer in layers), default=parameters)
    return ModelShape(
        parameters=parameters,
        trainable=lora_parameters(model, config) if config.lora.enabled else parameters,
        layers=text.num_hidden_layers,
        hidden=text.hidden_size,
        intermediate=text.intermediate_size,
        attention_width=heads * head_dim,
        kv_width=kv_heads * head_dim,
        vocab=text.vocab_size,
        largest_layer_parameters=largest,
    )


def lora_parameters(model: Any, config: TrainConfig) -> int:
    """What LoRA adds: r x (inputs + outputs) per adapted linear layer (``all-linear``: all but the output)."""
    import torch

    targets = config.lora.target_modules
    names = None if targets == "all-linear" else set(targets if isinstance(targets, list) else [targets])
    total = 0
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or name.endswith("lm_head"):
            continue
        if names is not None and name.rsplit(".", 1)[-1] not in names:
            continue
        total += config.lora.r * (module.in_features + module.out_features)
    return total


def memory_plan(shape: ModelShape, config: TrainConfig, gpus: int) -> MemoryPlan:
    stage, optimizer_offloaded = deepspeed_settings(config)
    weight_bytes = 2 if config.bf16 else 4
    sequence_parallel = config.sequence_parallel_size
    tokens = config.per_device_train_batch_size * -(-config.max_length // sequence_parallel)
    full = shape.parameters * weight_bytes
    weights = full / gpus if stage >= 3 else full
    gathered = 2 * shape.largest_layer_parameters * weight_bytes if stage >= 3 else 0
    gradients = shape.trainable * weight_bytes / (gpus if stage >= 2 else 1)
    optimizer_bytes = 12 if config.deepspeed else 2 * weight_bytes
    optimizer = 0.0 if optimizer_offloaded else shape.trainable * optimizer_bytes / (gpus if stage >= 1 else 1)
    per_token_layer = (
        2 * shape.attention_width + 2 * shape.kv_width + 3 * shape.hidden + 4 * shape.intermediate
    ) * ACTIVATION_BYTES
    if config.gradient_checkpointing:
        kept = 0 if config.activation_offloading else shape.layers * tokens * shape.hidden * ACTIVATION_BYTES
        activations = kept + 2 * tokens * per_token_layer
    else:
        activations = shape.layers * tokens * per_token_layer
    fused_loss = config.use_liger_kernel or sequence_parallel > 1
    logit_tokens = min(tokens, FUSED_LOSS_CHUNK_TOKENS) if fused_loss else tokens
    logits = logit_tokens * shape.vocab * 10
    parts = {
        "weights": weights,
        "gathered layers": gathered,
        "gradients": gradients,
        "optimizer": optimizer,
        "activations": activations,
        "logits": logits,
    }
    parts_gb = {name: value / GB for name, value in parts.items()} | {"reserve": CUDA_RESERVE_GB}
    return MemoryPlan(gpus, stage, sequence_parallel, tokens, parts_gb)


def fit_hints(plan: MemoryPlan, config: TrainConfig) -> list[str]:
    """What would bring the largest parts down, in the order worth trying."""
    parts = plan.parts_gb
    hints = []
    if plan.zero_stage < 3 and parts["weights"] + parts["optimizer"] > parts["activations"]:
        hints.append("ZeRO-3 (deepspeed: configs/train/deepspeed_zero3.json) shards weights, gradients and optimizer")
    if parts["logits"] > 4 and not config.use_liger_kernel:
        hints.append("use_liger_kernel: true (pip install liger-kernel) computes the loss without full logits")
    if parts["activations"] > 8:
        if not config.gradient_checkpointing:
            hints.append("gradient_checkpointing: true")
        hints.append("sequence_parallel_size: S (DeepSpeed Ulysses, S dividing the GPU count) splits each sample")
        if not config.activation_offloading:
            hints.append("activation_offloading: true keeps checkpointed activations in CPU memory")
    hints.append("more GPUs (--gpus), or a smaller max_length")
    return hints
