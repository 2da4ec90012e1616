"""What our code calls in its dependencies, checked one call at a time in the environment this runs in;
scripts/check_floors.py runs it where every dependency is at the floor pyproject.toml declares.

    python scripts/floor_probe.py                # every check
    python scripts/floor_probe.py --part data    # the [data] extra's: what `cligym dataset` needs
    python scripts/floor_probe.py --versions trl peft    # last line, JSON: each one's version as loaded

Each check names the distributions it leans on, so a failure says which package at which version broke:
``FAILED lora_step (peft 0.7.1, trl 1.11.0, ...): ValueError: Target modules all-linear not found ...``. Exits 1
when any check failed. Most checks cover what the Docker-free tests do not reach: LoRA, a dataset built by the
CLI from a saved Harbor job, the Docker SDK against the daemon, the sequence-parallel support no CPU can run.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.metadata
import json
import math
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAVED_HARBOR_JOB = REPO / "tests" / "fixtures" / "harbor-job"
ZERO3 = REPO / "configs" / "train" / "deepspeed_zero3.json"
PARTS = ("base", "data", "train")

# The tiny tokenizer, dataset and Qwen3 config the training tests build (tests/training/tiny.py).
sys.path.insert(0, str(REPO))


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    part: str
    packages: tuple[str, ...]  # the distributions whose versions a failure is reported with
    run: Callable[[Path], str]  # given a scratch directory; returns what it saw, raises when broken


def cli(*args: str) -> str:
    """One `cligym` command in this process (typer's test runner), its output; raises when it fails."""
    from typer.testing import CliRunner

    from cligym.cli.app import app

    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if result.exit_code != 0:
        raise RuntimeError(f"cligym {' '.join(args)} exited {result.exit_code}:\n{result.output[-2000:]}")
    return str(result.output)


def cli_help(work: Path) -> str:
    from cligym.cli.app import app

    names = [command.name for command in app.registered_commands if command.name]
    for name in names:
        if "Examples:" not in cli(name, "--help"):
            raise RuntimeError(f"cligym {name} --help shows no examples")
    return f"--help of {len(names)} commands"


def settings(work: Path) -> str:
    from cligym.settings import load_settings

    loaded = load_settings()
    return f"settings loaded ({len(type(loaded).model_fields)} sections)"


def model_client(work: Path) -> str:
    from cligym.llm import BASH_TOOL, ChatClient, user_message
    from cligym.llm.scripted_server import ScriptedModelServer, tool_reply

    with ScriptedModelServer([tool_reply("bash", {"command": "ls /repo"}, prompt_tokens=12)]) as server:
        client = ChatClient(server.base_url, server.model, max_retries=0)
        reply = client.complete([user_message("repair it")], tools=[BASH_TOOL])
    call = reply.message.tool_calls[0]
    if call.name != "bash" or "ls /repo" not in call.arguments or reply.usage.prompt_tokens != 12:
        raise RuntimeError(f"the reply came back changed: {reply}")
    return "a tool call through the openai SDK"


def docker_daemon(work: Path) -> str:
    from cligym.docker_connection import docker_client
    from cligym.errors import DockerUnavailableError

    try:
        client = docker_client()
    except DockerUnavailableError as exc:
        return f"skipped, no daemon here ({exc.message})"
    return f"pinged the daemon (API {client.version()['ApiVersion']})"


def saved_run_to_dataset(work: Path) -> str:
    """`cligym rollout-import`, `filter` and `dataset` on a saved Harbor job, then the chat rows read back."""
    import datasets

    run, out = work / "run", work / "dataset"
    cli("rollout-import", str(SAVED_HARBOR_JOB), "--out", str(run))
    cli("filter", str(run))
    cli("dataset", str(run), "--out", str(out))
    rows = datasets.load_from_disk(str(out / "chat" / "hf"))["train"]
    calls = [call for message in rows[0]["messages"] for call in message["tool_calls"] or []]
    if not calls or not isinstance(calls[0]["function"]["arguments"], dict):
        raise RuntimeError(f"tool call arguments did not round-trip as objects (Json feature): {calls[:1]}")
    return f"{len(rows)} chat rows, {len(calls)} tool calls with object arguments"


def hub_client(work: Path) -> str:
    import huggingface_hub
    from huggingface_hub import DatasetCard, hf_hub_download  # noqa: F401  (what push_dataset imports)
    from huggingface_hub.errors import HfHubHTTPError  # noqa: F401

    card = work / "dataset" / "chat" / "README.md"
    if not card.is_file():
        raise RuntimeError("needs the dataset card saved_run_to_dataset writes")
    metadata = DatasetCard(card.read_text(encoding="utf-8")).data.to_dict()
    if not callable(huggingface_hub.get_token) or "license" not in metadata:
        raise RuntimeError(f"the card's metadata does not read back: {metadata}")
    return f"our card's metadata read back ({', '.join(sorted(metadata))})"


def tiny_model(work: Path) -> Path:
    """A tiny Qwen3 with its tokenizer, saved once for the training checks."""
    model_dir = work / "tiny-qwen3"
    if not (model_dir / "config.json").is_file():
        import torch
        from transformers import AutoModelForCausalLM

        from tests.training.tiny import qwen3_config, save_tokenizer

        tokenizer = save_tokenizer(model_dir)
        torch.manual_seed(0)
        AutoModelForCausalLM.from_config(qwen3_config(len(tokenizer))).save_pretrained(model_dir)
    return model_dir


def assistant_masks(work: Path) -> str:
    from transformers import AutoTokenizer

    from tests.training.tiny import conversation

    tokenizer = AutoTokenizer.from_pretrained(tiny_model(work))
    sample = conversation(0, repeats=2)
    encoded: Any = tokenizer.apply_chat_template(
        sample["messages"], tools=sample["tools"], tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    mask = list(encoded["assistant_masks"])
    if len(mask) != len(encoded["input_ids"]) or not 0 < sum(mask) < len(mask):
        raise RuntimeError(f"no usable assistant mask: {sum(mask)} of {len(mask)} tokens")
    return f"{sum(mask)} of {len(mask)} tokens are the assistant's"


def rope_scaling(work: Path) -> str:
    from cligym.training.config import TrainConfig
    from cligym.training.model import load_model_config, rope_theta_of

    scaling = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024}
    config = TrainConfig(
        model=str(tiny_model(work)), dataset="unused", output_dir="unused", rope_scaling=scaling, max_length=4096
    )
    model_config = load_model_config(config)
    parameters = getattr(model_config, "rope_parameters", None) or {}
    if rope_theta_of(model_config) != 1_000_000.0 or parameters.get("rope_type") != "yarn":
        raise RuntimeError(f"YaRN not merged into the RoPE parameters with rope_theta kept: {parameters}")
    return "YaRN merged into rope_parameters, rope_theta kept"


def lora_step(work: Path) -> str:
    from cligym.training.config import TrainConfig
    from cligym.training.train import train
    from tests.training.tiny import save_dataset

    out = work / "lora"
    config = TrainConfig.model_validate(
        {
            "model": str(tiny_model(work)),
            "dataset": str(save_dataset(work / "conversations", [1, 2, 1])),
            "output_dir": str(out),
            "max_length": 4096,
            "bf16": False,
            "gradient_checkpointing": False,
            "warmup_ratio": 0.0,
            "max_steps": 2,
            "logging_steps": 1,
            "save_steps": 2,
            "lora": {"enabled": True, "r": 4},
        }
    )
    trainer = train(config)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    trained = [name for name, parameter in trainer.model.named_parameters() if parameter.requires_grad]
    if not losses or not all(math.isfinite(loss) for loss in losses):
        raise RuntimeError(f"no finite training loss: {trainer.state.log_history}")
    if not trained or not all("lora_" in name for name in trained):
        raise RuntimeError(f"more than the LoRA adapters train: {trained[:5]}")
    if not (out / "adapter_config.json").is_file():
        raise RuntimeError("no adapter saved")
    return f"{len(losses)} LoRA steps, loss {losses[-1]:.3f}"


def sequence_parallel(work: Path) -> str:
    """DeepSpeed Ulysses needs a part of accelerate, of transformers and of TRL, and no CPU can run it: each
    part is looked for by name, then the arguments are built the way train.py builds them."""
    import accelerate
    import transformers
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from cligym.training.config import TrainConfig
    from cligym.training.train import sft_config

    collator_fields = {field.name for field in dataclasses.fields(DataCollatorForLanguageModeling)}
    parts = {
        # Shards each batch along the sequence (accelerate 1.12).
        "accelerate's Accelerator.deepspeed_ulysses_dl_adapter": hasattr(
            accelerate.Accelerator, "deepspeed_ulysses_dl_adapter"
        ),
        # Wraps the dataloader with it and reduces the loss over the ranks (transformers 5.0).
        "transformers' Trainer._deepspeed_sp_compute_loss": hasattr(transformers.Trainer, "_deepspeed_sp_compute_loss"),
        # Each token's global position in every batch (TRL 1.11).
        "TRL's DataCollatorForLanguageModeling.return_position_ids": "return_position_ids" in collator_fields,
    }
    missing = [what for what, present in parts.items() if not present]
    if missing:
        raise RuntimeError(f"missing for sequence parallelism: {'; '.join(missing)}")
    # Last: arguments with a ZeRO-3 config make it live for every model created after them in this process.
    config = TrainConfig(
        model=str(tiny_model(work)), dataset="unused", output_dir=str(work / "sp"), sequence_parallel_size=2,
        deepspeed=str(ZERO3), bf16=False,
    )  # fmt: skip
    parallelism = sft_config(config, has_eval=False).parallelism_config
    if parallelism.sp_backend != "deepspeed" or parallelism.sp_size != 2:
        raise RuntimeError(f"SFTConfig got {parallelism}")
    return "Ulysses handed to TRL through accelerate's ParallelismConfig"


CHECKS = (
    Check("cli_help", "base", ("typer", "rich", "pydantic"), cli_help),
    Check("settings", "base", ("pydantic", "pyyaml"), settings),
    Check("model_client", "base", ("openai", "httpx", "pydantic"), model_client),
    Check("docker_daemon", "base", ("docker",), docker_daemon),
    Check(
        "saved_run_to_dataset",
        "data",
        ("datasets", "huggingface-hub", "pandas", "matplotlib", "typer", "rich", "pydantic"),
        saved_run_to_dataset,
    ),
    Check("hub_client", "data", ("huggingface-hub",), hub_client),
    Check("assistant_masks", "train", ("transformers", "tokenizers", "jinja2"), assistant_masks),
    Check("rope_scaling", "train", ("transformers",), rope_scaling),
    Check("lora_step", "train", ("peft", "trl", "transformers", "accelerate", "datasets", "torch"), lora_step),
    Check("sequence_parallel", "train", ("trl", "transformers", "accelerate", "deepspeed"), sequence_parallel),
)


def version_of(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run_checks(parts: tuple[str, ...]) -> bool:
    failed = []
    with tempfile.TemporaryDirectory(prefix="cligym-floor-probe-") as scratch:
        for check in CHECKS:
            if check.part not in parts:
                continue
            started = time.monotonic()
            try:
                seen = check.run(Path(scratch))
            except Exception as exc:
                versions = ", ".join(f"{name} {version_of(name)}" for name in check.packages)
                print(f"FAILED {check.name} ({versions}): {type(exc).__name__}: {exc}", flush=True)
                print("".join(traceback.format_exception(exc)[-6:]), flush=True)
                failed.append(check.name)
            else:
                print(f"ok     {check.name} ({time.monotonic() - started:.1f} s): {seen}", flush=True)
    if failed:
        print(f"{len(failed)} probe checks failed: {', '.join(failed)}", flush=True)
    return not failed


# Distributions whose module is not named after them.
MODULES = {"pyyaml": "yaml", "huggingface-hub": "huggingface_hub", "flash-attn": "flash_attn"}


def versions(distributions: list[str]) -> dict[str, dict[str, Any]]:
    """Each distribution's version by its metadata and, imported, by its module's ``__version__`` (None where it
    has none), with the file the import came from: what this interpreter really loads."""
    found: dict[str, dict[str, Any]] = {}
    for name in distributions:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = {"version": None, "imported": None, "file": None}
            continue
        module = importlib.import_module(MODULES.get(name, name.replace("-", "_")))
        imported = getattr(module, "__version__", None)
        found[name] = {
            "version": version,
            "imported": None if imported is None else str(imported),
            "file": module.__file__,
        }
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=(*PARTS, "all"), default="all", help="which extra's checks")
    parser.add_argument("--versions", nargs="+", metavar="DIST", help="print these distributions' versions")
    args = parser.parse_args(argv)
    if args.versions:
        print(json.dumps(versions(args.versions)))
        return 0
    return 0 if run_checks(PARTS if args.part == "all" else (args.part,)) else 1


if __name__ == "__main__":
    sys.exit(main())
