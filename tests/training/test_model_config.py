"""The model as training builds it, on CPU: RoPE scaling through the installed transformers' own parameters,
the attention fallback, and ZeRO-3 live when the model is created (real DeepSpeed, one CPU rank)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl", reason="training needs the [train] extra (CI installs it)")

from cligym.errors import ConfigError
from cligym.training.config import TrainConfig
from cligym.training.model import attention_implementation, load_model, load_model_config, rope_theta_of
from cligym.training.train import sft_config
from tests.training.tiny import qwen3_config, save_dataset, save_tokenizer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("tiny-qwen3")
    tokenizer = save_tokenizer(out)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(qwen3_config(len(tokenizer))).save_pretrained(out)
    return out


def config_for(model: Path, dataset: Path | str = "unused", **changes: Any) -> TrainConfig:
    values = {"model": str(model), "dataset": str(dataset), "output_dir": "unused", "bf16": False}
    return TrainConfig.model_validate(values | changes)


def test_yarn_is_merged_into_the_rope_parameters_and_keeps_rope_theta(tiny_qwen3: Path) -> None:
    scaling = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024}
    config = config_for(tiny_qwen3, rope_scaling=scaling, max_length=4096)
    model_config = load_model_config(config)
    assert rope_theta_of(model_config) == 1_000_000.0
    assert model_config.max_position_embeddings == 4096  # factor x original, as transformers checks

    scaled = load_model(config)
    plain = load_model(config_for(tiny_qwen3))
    scaled_rope, plain_rope = scaled.model.rotary_emb, plain.model.rotary_emb
    assert scaled_rope.rope_type == "yarn" and plain_rope.rope_type == "default"
    # YaRN stretches the low frequencies and scales attention; with theta lost, every frequency would change.
    assert float(scaled_rope.attention_scaling) > 1.0
    assert float(scaled_rope.inv_freq[0]) == pytest.approx(float(plain_rope.inv_freq[0]))
    assert float(scaled_rope.inv_freq[-1]) < float(plain_rope.inv_freq[-1])


def test_yarn_factor_and_original_positions_come_from_the_family(tiny_qwen3: Path) -> None:
    model_config = load_model_config(config_for(tiny_qwen3, rope_scaling={"rope_type": "yarn"}, max_length=65536))
    parameters = model_config.rope_parameters
    assert parameters["original_max_position_embeddings"] == 32768  # Qwen3's pretrained positions
    assert parameters["factor"] == 2.0 and model_config.max_position_embeddings == 65536
    assert parameters["rope_theta"] == 1_000_000.0


def test_yarn_without_known_positions_is_refused(tmp_path: Path) -> None:
    from transformers import LlamaConfig

    LlamaConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="original_max_position_embeddings for model type 'llama'"):
        load_model_config(config_for(tmp_path, rope_scaling={"rope_type": "yarn"}))


def test_flash_attention_falls_back_to_sdpa_without_its_package_or_a_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    assert attention_implementation("flash_attention_2") == "sdpa"
    assert "flash_attention_2 needs" in capsys.readouterr().out
    assert attention_implementation("eager") == "eager" and attention_implementation(None) is None


def test_sequence_parallelism_is_handed_to_trl_as_deepspeed_ulysses(tiny_qwen3: Path) -> None:
    arguments = sft_config(
        config_for(tiny_qwen3, sequence_parallel_size=2, deepspeed=str(REPO / "configs/train/deepspeed_zero3.json")),
        has_eval=False,
    )
    parallelism = arguments.parallelism_config
    assert parallelism.sp_backend == "deepspeed" and parallelism.sp_size == 2
    assert arguments.assistant_only_loss is True
    assert sft_config(config_for(tiny_qwen3), has_eval=False).parallelism_config is None


ZERO3_PROBE = """
import json, sys
from cligym.training.config import TrainConfig
from cligym.training.train import build_trainer
config = TrainConfig.model_validate(json.loads(sys.argv[1]))
trainer, _ = build_trainer(config)
parameters = list(trainer.model.parameters())
print(json.dumps({
    "partitioned": all(hasattr(p, "ds_id") and p.numel() == 0 for p in parameters),
    "full_numel": sum(p.ds_numel for p in parameters if hasattr(p, "ds_numel")),
}))
"""


@pytest.mark.slow
def test_zero3_is_live_when_the_model_is_created(tiny_qwen3: Path, tmp_path: Path) -> None:
    pytest.importorskip("deepspeed", reason="the dev extra installs deepspeed")
    import torch
    from transformers import AutoModelForCausalLM

    dataset = save_dataset(tmp_path / "data", [1, 2, 1])
    zero3 = str(REPO / "configs/train/deepspeed_zero3.json")
    config = config_for(tiny_qwen3, dataset, output_dir=str(tmp_path / "out"), deepspeed=zero3)
    # One rank of a real launch: what torchrun/accelerate set for each process.
    env = os.environ | {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29517", "RANK": "0", "LOCAL_RANK": "0",
                        "WORLD_SIZE": "1"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", ZERO3_PROBE, config.model_dump_json()],
        capture_output=True, text=True, timeout=600, env=env, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    # Every weight was created as a ZeRO-3 shard (empty on this rank's module), not materialised whole.
    assert probe["partitioned"]
    vocab = int(json.loads((tiny_qwen3 / "config.json").read_text())["vocab_size"])
    with torch.device("meta"):
        whole = sum(p.numel() for p in AutoModelForCausalLM.from_config(qwen3_config(vocab)).parameters())
    assert probe["full_numel"] == whole
