"""training/train.py on CPU: a tiny randomly initialised Llama-style model and a tokenizer with a tool-aware
chat template, both built here, trained on the chat dataset made from a real scripted rollout."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl", reason="training needs the [train] extra (CI installs it)")

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from cligym.errors import ConfigError
from cligym.filtering.dataset import build_dataset, save_dataset
from cligym.rollout.trajectory import read_trajectories
from cligym.training.config import TrainConfig
from cligym.training.train import build_trainer, train
from tests.training.tiny import byte_level_tokenizer

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
NO_TOOLS_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message.role }}\n{% if message.role == 'assistant' %}"
    "{% generation %}{{ message.content }}<|im_end|>{% endgeneration %}{% else %}{{ message.content }}<|im_end|>"
    "{% endif %}\n{% endfor %}"
)


@pytest.fixture(scope="module")
def dataset_dir(rollout_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The datasets stage's output for the run's resolved episodes."""
    trajectories = [t for t in read_trajectories(rollout_run) if t.resolved]
    out = tmp_path_factory.mktemp("dataset")
    save_dataset(build_dataset(trajectories, validation_share=0.5, seed=0), out)
    return out / "hf"


@pytest.fixture(scope="module")
def model_dir(dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tokenizer trained on the dataset's text and a randomly initialised 2-layer model, saved together."""
    import datasets

    texts = [str(message.get("content") or "") for row in datasets.load_from_disk(str(dataset_dir))["train"]
             for message in row["messages"]]  # fmt: skip
    tokenizer = byte_level_tokenizer(texts, vocab_size=600)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-model")
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def config(model_dir: Path, dataset_dir: Path, output_dir: Path, **changes: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "model": str(model_dir),
        "dataset": str(dataset_dir),
        "output_dir": str(output_dir),
        "max_length": 16384,
        "bf16": False,
        "gradient_checkpointing": False,
        "learning_rate": 3e-3,
        "warmup_ratio": 0.0,
        "lr_scheduler_type": "constant",
        "max_steps": 5,
        "logging_steps": 1,
        "save_steps": 5,
        "eval_steps": 5,
        "per_device_train_batch_size": 1,
    }
    return TrainConfig.model_validate(values | changes)


def test_labels_are_masked_exactly_outside_assistant_turns(model_dir: Path, dataset_dir: Path, tmp_path: Path) -> None:
    trainer, data = build_trainer(config(model_dir, dataset_dir, tmp_path / "out"))
    tokenizer = trainer.processing_class
    processed = list(trainer.train_dataset)
    assert data.dropped_too_long == 0 and len(processed) == len(data.train) > 0
    for raw, row in zip(data.train, processed, strict=True):
        # Independently of TRL: the template's own assistant spans for this conversation.
        expected = tokenizer.apply_chat_template(
            raw["messages"],
            tools=raw["tools"],
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        assert row["input_ids"] == list(expected["input_ids"])
        trained = [label != -100 for label in row["labels"]]
        assert trained == [bool(bit) for bit in expected["assistant_masks"]]
        assert [label for label in row["labels"] if label != -100] == [
            token for token, bit in zip(row["input_ids"], trained, strict=True) if bit
        ]
    first = processed[0]
    learned = tokenizer.decode(
        [t for t, label in zip(first["input_ids"], first["labels"], strict=True) if label != -100]
    )
    masked = tokenizer.decode(
        [t for t, label in zip(first["input_ids"], first["labels"], strict=True) if label == -100]
    )
    assert "ldconfig" in learned and "submit" in learned  # the assistant's commands and its stop
    assert "exit code 0" in masked and "exit code 0" not in learned  # tool outputs are never trained on
    assert "Submitted." in masked and "<|im_end|>" in learned  # the model learns to end its turn
    batch = next(iter(trainer.get_train_dataloader()))
    real = batch["attention_mask"][0] == 1
    assert batch["labels"][0][real].tolist() in [row["labels"] for row in processed]


def test_five_steps_give_a_finite_falling_loss_and_a_checkpoint_that_resumes(
    model_dir: Path, dataset_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = config(model_dir, dataset_dir, out)
    trainer, _ = build_trainer(first)
    batch = next(iter(trainer.get_train_dataloader()))

    def loss_on(model: Any) -> float:
        model.eval()
        with torch.no_grad():
            return float(model(**{key: value.to(model.device) for key, value in batch.items()}).loss)

    before = loss_on(trainer.model)
    trainer = train(first)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 5 and all(math.isfinite(loss) for loss in losses)
    after = loss_on(trainer.model)
    assert after < before, (before, after)
    assert (out / "checkpoint-5" / "trainer_state.json").is_file() and (out / "model.safetensors").is_file()
    assert any("eval_loss" in entry for entry in trainer.state.log_history)

    resumed = train(config(model_dir, dataset_dir, out, max_steps=7, resume_from_checkpoint=True))
    assert resumed.state.global_step == 7
    steps_logged = [entry["step"] for entry in resumed.state.log_history if "loss" in entry]
    assert steps_logged[-2:] == [6, 7] and 5 in steps_logged  # continued from step 5, not from 0


def test_lora_trains_adapters_only(model_dir: Path, dataset_dir: Path, tmp_path: Path) -> None:
    trainer = train(config(model_dir, dataset_dir, tmp_path / "lora", max_steps=2, lora={"enabled": True, "r": 4}))
    trainable = [name for name, parameter in trainer.model.named_parameters() if parameter.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    assert (tmp_path / "lora" / "adapter_config.json").is_file()


def test_clear_errors_before_any_training(model_dir: Path, dataset_dir: Path, tmp_path: Path) -> None:
    import datasets

    plain = tmp_path / "plain"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["hello"]})}).save_to_disk(str(plain))
    with pytest.raises(ConfigError, match="has no 'messages' column"):
        build_trainer(config(model_dir, plain, tmp_path / "a"))

    template = tmp_path / "no_tools.jinja"
    template.write_text(NO_TOOLS_TEMPLATE)
    with pytest.raises(ConfigError, match="drops tool calls"):
        build_trainer(config(model_dir, dataset_dir, tmp_path / "b", chat_template=str(template)))
    # The plain-text variant of the dataset trains with such a template.
    trainer, _ = build_trainer(
        config(model_dir, dataset_dir, tmp_path / "c", chat_template=str(template), messages_field="messages_text")
    )
    assert len(trainer.train_dataset) > 0

    with pytest.raises(ConfigError, match="not larger than the system prompt"):
        build_trainer(config(model_dir, dataset_dir, tmp_path / "d", max_length=16))


def test_the_script_runs_standalone_and_reports_bad_config_in_one_line(
    model_dir: Path, dataset_dir: Path, tmp_path: Path
) -> None:
    recipe = tmp_path / "smoke.yaml"
    recipe.write_text((REPO / "configs" / "train" / "smoke.yaml").read_text())
    overrides = [
        f"model={model_dir}",
        f"dataset={dataset_dir}",
        f"output_dir={tmp_path / 'out'}",
        "max_steps=1",
        "max_length=4096",
    ]
    result = subprocess.run(
        [sys.executable, str(REPO / "training" / "train.py"), "--config", str(recipe), *overrides],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training on" in result.stdout and (tmp_path / "out" / "model.safetensors").is_file()

    bad = subprocess.run(
        [sys.executable, str(REPO / "training" / "train.py"), "--config", str(recipe), "learning_rat=1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "learning_rat" in bad.stderr and "Traceback" not in bad.stderr
