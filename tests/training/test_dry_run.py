"""`train.py --dry-run` on the shipped Qwen3-32B recipe and config (no weights): the memory per GPU it prints
against a hand calculation, a layout that cannot fit refused with hints, and samples dropped by length."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="training needs the [train] extra (CI installs it)")

from cligym.training.config import load_train_config
from cligym.training.train import dry_run
from tests.training.tiny import save_dataset, save_tokenizer

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "configs" / "train" / "qwen3-32b.yaml"
QWEN3_32B = REPO / "configs" / "train" / "models" / "qwen3-32b"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Overrides pointing the recipe at the shipped 32B config, a tiny tokenizer and a small dataset (one long)."""
    root = tmp_path_factory.mktemp("dry-run")
    save_tokenizer(root / "tokenizer")
    save_dataset(root / "data", [1, 1, 2, 40])
    return [f"model={QWEN3_32B}", f"tokenizer={root / 'tokenizer'}", f"dataset={root / 'data'}", "output_dir=unused"]


def qwen3_32b_by_hand() -> dict[str, float]:
    """Qwen3-32B's published shape, counted by hand: parameters, and the recipe's bytes per GPU at 16 GPUs."""
    vocab, hidden, layers, intermediate, head_dim = 151936, 5120, 64, 25600, 128
    q_width, kv_width = 64 * head_dim, 8 * head_dim
    attention = hidden * q_width + 2 * hidden * kv_width + q_width * hidden + 2 * head_dim  # q, k, v, o, qk-norms
    layer = attention + 3 * hidden * intermediate + 2 * hidden  # MLP and two norms
    parameters = layers * layer + 2 * vocab * hidden + hidden  # untied embeddings and output, final norm
    gpus, tokens = 16, 102400 // 8  # sequence parallel 8
    per_token_layer = 2 * q_width + 2 * kv_width + 3 * hidden + 4 * intermediate
    return {
        "parameters": parameters,
        "weights": 2 * parameters / gpus,
        "gathered layers": 2 * 2 * layer,
        "gradients": 2 * parameters / gpus,
        "optimizer": 12 * parameters / gpus,
        "activations": layers * tokens * hidden * 2 + 2 * tokens * per_token_layer * 2,
        "logits": 1024 * vocab * 10,
    }


def printed_parts(output: str) -> dict[str, float]:
    return {name: float(value) * 1e9 for name, value in re.findall(r"^  ([a-z ]+?)\s+([\d.]+)$", output, re.M)}


@pytest.mark.slow
def test_the_32b_recipe_fits_16_gpus_as_a_hand_calculation_says(inputs: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "training" / "train.py"), "--config", str(RECIPE), "--dry-run", "--gpus", "16",
         *inputs],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    hand = qwen3_32b_by_hand()
    billions = re.search(r"([\d.]+)B parameters", result.stdout)
    assert billions and float(billions.group(1)) == pytest.approx(hand["parameters"] / 1e9, rel=0.01)
    printed = printed_parts(result.stdout)
    for part in ("weights", "gathered layers", "gradients", "optimizer", "activations", "logits"):
        assert printed[part] == pytest.approx(hand[part], rel=0.10, abs=0.1e9), part
    assert "rope_theta 1000000.0" in result.stdout and "positions   102400" in result.stdout
    assert "ZeRO-3, sequence parallel 8, 12800 tokens per GPU" in result.stdout
    assert result.stdout.rstrip().endswith("fits")


def test_a_layout_that_cannot_fit_is_refused_with_hints(inputs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    config = load_train_config(RECIPE, [*inputs, "sequence_parallel_size=1"])
    assert dry_run(config, gpus=16, gpu_memory_gb=80) is False
    output = capsys.readouterr().out
    assert "does not fit" in output
    assert "sequence_parallel_size" in output and "use_liger_kernel" in output
    # Whole 102,400-token samples on one GPU: their logits alone are over 150 GB.
    assert printed_parts(output)["logits"] > 150e9


def test_samples_dropped_by_length_are_counted(inputs: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    config = load_train_config(RECIPE, [*inputs, "max_length=512", "sequence_parallel_size=1", "rope_scaling=null"])
    assert dry_run(config, gpus=8, gpu_memory_gb=80) is True
    output = capsys.readouterr().out
    assert re.search(r"data {8}3 train samples, 1 dropped as longer than 512 tokens", output), output
