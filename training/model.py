"""The model's configuration and the model itself, built the way the installed transformers expects.

Order matters for large models: the model is created only after the trainer's arguments exist, because
constructing them is what makes a DeepSpeed ZeRO-3 configuration live, and only then does ``from_pretrained``
create each weight already partitioned across ranks instead of the whole model on every rank.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Any

from cligym.errors import ConfigError
from cligym.training.config import TrainConfig
from cligym.training.ranks import rank_zero_print

# Positions a family was pretrained on, which YaRN scales from (the model family's documentation; the
# ``max_position_embeddings`` in a Qwen3 config, 40,960, also counts room for generated tokens).
PRETRAINED_POSITIONS = {"qwen3": 32768, "qwen3_moe": 32768, "qwen2": 32768}
FLASH_ATTENTION = ("flash_attention_2", "flash_attention_3")


def load_model_config(config: TrainConfig) -> Any:
    from transformers import AutoConfig

    try:
        model_config = AutoConfig.from_pretrained(config.model)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"model {config.model!r} has no readable config: {exc}", "pass a model path or a Hub id"
        ) from None
    if config.rope_scaling is not None:
        apply_rope_scaling(model_config, config.rope_scaling, config.max_length)
    return model_config


def yarn_parameters(model_config: Any, scaling: dict[str, Any], max_length: int) -> dict[str, Any]:
    """YaRN's ``original_max_position_embeddings`` and ``factor`` filled in where the config leaves them out:
    the family's pretrained positions, and the factor that reaches ``max_length`` from them (Qwen's rule:
    factor = context needed / 32,768)."""
    filled = dict(scaling)
    if filled.get("rope_type", filled.get("type")) != "yarn":
        return filled
    if "original_max_position_embeddings" not in filled:
        family = getattr(model_config, "model_type", "")
        if family not in PRETRAINED_POSITIONS:
            raise ConfigError(
                f"rope_scaling: YaRN needs original_max_position_embeddings for model type {family!r}",
                "set it to the positions the model was pretrained on (see the model card)",
            )
        filled["original_max_position_embeddings"] = PRETRAINED_POSITIONS[family]
    filled.setdefault("factor", max(1.0, max_length / filled["original_max_position_embeddings"]))
    return filled


def apply_rope_scaling(model_config: Any, scaling: dict[str, Any], max_length: int) -> None:
    """Scaling merged into the config's RoPE parameters, never replacing them: transformers 5 keeps
    ``rope_theta`` inside ``rope_parameters``, so assigning a new dict would lose it; 4.x keeps it apart."""
    scaling = yarn_parameters(model_config, scaling, max_length)
    if "factor" in scaling and "original_max_position_embeddings" in scaling:
        # transformers checks that factor = max_position_embeddings / original, and vLLM reads the length here.
        original = scaling["original_max_position_embeddings"]
        model_config.max_position_embeddings = math.ceil(original * scaling["factor"])
    if hasattr(model_config, "rope_parameters") and hasattr(model_config, "standardize_rope_params"):
        base = dict(model_config.rope_parameters or {})
        if not base.get("rope_theta"):
            base["rope_theta"] = getattr(model_config, "rope_theta", None) or model_config.default_theta
        model_config.rope_parameters = {**base, **scaling}
        model_config.standardize_rope_params()
        model_config.validate_rope()
    else:
        model_config.rope_scaling = scaling


def rope_theta_of(model_config: Any) -> float | None:
    parameters = getattr(model_config, "rope_parameters", None)
    if isinstance(parameters, dict) and parameters.get("rope_theta"):
        return float(parameters["rope_theta"])
    theta = getattr(model_config, "rope_theta", None)
    return float(theta) if theta else None


def attention_implementation(requested: str | None) -> str | None:
    """The attention kernel to load with: flash attention only when its package and a GPU are here, else
    PyTorch's SDPA (the same maths, more memory at long contexts), said once."""
    if requested not in FLASH_ATTENTION:
        return requested
    package = "flash_attn_interface" if requested == "flash_attention_3" else "flash_attn"
    import torch

    missing = [
        reason
        for reason, absent in (
            (f"the {package} package (pip install 'cligym[flash]')", importlib.util.find_spec(package) is None),
            ("a CUDA GPU", not torch.cuda.is_available()),
        )
        if absent
    ]
    if not missing:
        return requested
    rank_zero_print(f"attn_implementation {requested} needs {' and '.join(missing)}: using sdpa instead")
    return "sdpa"


def load_model(config: TrainConfig) -> Any:
    """The model, to be called after the SFT arguments are built (see the module docstring)."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {
        "config": load_model_config(config),
        "dtype": torch.bfloat16 if config.bf16 else torch.float32,
    }
    implementation = attention_implementation(config.attn_implementation)
    if implementation:
        kwargs["attn_implementation"] = implementation
    return AutoModelForCausalLM.from_pretrained(config.model, **kwargs)
