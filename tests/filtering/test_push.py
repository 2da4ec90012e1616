"""`cligym dataset RUN --out DIR --push ORG/NAME` against a stand-in Hub on 127.0.0.1 (tests/filtering/
hub_stand_in.py), without Docker: the token comes from where huggingface_hub finds it (a login's token file,
HF_TOKEN_PATH, or --token), the data is pushed first and the dataset card after it, keeping the metadata
``push_to_hub`` wrote for its files."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from huggingface_hub import DatasetCard

from cligym.filtering.dataset import KEPT_PATH
from cligym.llm.messages import ChatMessage, ToolCall, system_message, tool_message, user_message
from cligym.rollout.trajectory import SamplingConfig, Totals, Trajectory, VerifierResult, append_trajectory
from tests.filtering.hub_stand_in import HubRecord
from tests.filtering.hub_stand_in import hub as hub

pytest.importorskip("datasets")

REPO = Path(__file__).resolve().parents[2]
CLI = "from cligym.cli.app import main; main()"
TASKS = ("inventory-sqlite-soname", "inventory-zlib-missing")
# Every way huggingface_hub could find a token on this machine, so that each test names its own.
TOKEN_VARIABLES = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HOME",
    "HF_OIDC_RESOURCE",
    "HF_HUB_OFFLINE",
)


def repaired(task_id: str, sample: int) -> Trajectory:
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    call = ToolCall(id="call_1", name="bash", arguments='{"command": "ldconfig"}')
    return Trajectory(
        episode_id=f"{task_id}#{sample}",
        task_id=task_id,
        sample=sample,
        repo="inventory",
        category="shared-library",
        sampling=SamplingConfig(model="Qwen/Qwen3-8B"),
        messages=[
            system_message("You repair broken environments."),
            user_message("The tests fail to import sqlite3."),
            ChatMessage(role="assistant", content="Relinking.", tool_calls=[call]),
            tool_message("call_1", ""),
            ChatMessage(role="assistant", content="Done."),
        ],
        verifier=VerifierResult(reward=1.0),
        totals=Totals(steps=2, commands=1, prompt_tokens=300, completion_tokens=20),
        termination_reason="submitted",
        started_at=moment,
        finished_at=moment,
    )


@pytest.fixture
def kept_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    for task in TASKS:
        for sample in range(2):
            append_trajectory(run, repaired(task, sample))
    (run / KEPT_PATH).parent.mkdir()
    (run / KEPT_PATH).write_text("".join(f"{task}#{sample}\n" for task in TASKS for sample in range(2)))
    return run


def push(run: Path, out: Path, endpoint: str, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in TOKEN_VARIABLES}
    # A fresh process: the Hub client reads its endpoint and token paths when imported.
    environment = clean | {"HF_ENDPOINT": endpoint, "HF_HUB_DISABLE_XET": "1"} | env
    command = [sys.executable, "-c", CLI, "dataset", str(run), "--out", str(out), "--push", "my-org/repairs", *options]
    return subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)


def logged_in(home: Path, token: str) -> dict[str, str]:
    """What `hf auth login` leaves: the token in $HF_HOME/token."""
    home.mkdir(parents=True)
    (home / "token").write_text(token + "\n")
    return {"HF_HOME": str(home)}


def test_the_token_a_login_saved_pushes_the_dataset(hub: tuple[str, HubRecord], kept_run: Path, tmp_path: Path) -> None:
    endpoint, record = hub
    result = push(kept_run, tmp_path / "out", endpoint, logged_in(tmp_path / "hf", "hf_from_login"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pushed the chat dataset to https://huggingface.co/datasets/my-org/repairs" in result.stdout
    assert record.tokens == {"Bearer hf_from_login"}
    assert record.created["my-org/repairs"]["visibility"] == "private"


def test_a_token_file_named_by_hf_token_path_is_used(
    hub: tuple[str, HubRecord], kept_run: Path, tmp_path: Path
) -> None:
    endpoint, record = hub
    token_file = tmp_path / "secrets" / "hub-token"
    token_file.parent.mkdir()
    token_file.write_text("hf_from_path\n")
    env = {"HF_HOME": str(tmp_path / "empty-home"), "HF_TOKEN_PATH": str(token_file)}
    result = push(kept_run, tmp_path / "out", endpoint, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert record.tokens == {"Bearer hf_from_path"}


def test_an_explicit_token_wins_over_the_saved_one(hub: tuple[str, HubRecord], kept_run: Path, tmp_path: Path) -> None:
    endpoint, record = hub
    env = logged_in(tmp_path / "hf", "hf_from_login")
    result = push(kept_run, tmp_path / "out", endpoint, env, "--token", "hf_explicit")
    assert result.returncode == 0, result.stdout + result.stderr
    assert record.tokens == {"Bearer hf_explicit"}


def test_no_token_anywhere_is_one_error_naming_every_way_to_give_one(
    hub: tuple[str, HubRecord], kept_run: Path, tmp_path: Path
) -> None:
    endpoint, record = hub
    result = push(kept_run, tmp_path / "out", endpoint, {"HF_HOME": str(tmp_path / "empty-home")})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "error: no Hugging Face token to push my-org/repairs with" in result.stderr
    for way in ("--token", "HF_TOKEN", "hf auth login", "HF_HOME", "HF_TOKEN_PATH"):
        assert way in result.stderr
    assert "Traceback" not in result.stderr
    assert not record.created and not record.commits


def test_the_card_is_committed_after_the_data_with_the_metadata_push_to_hub_wrote(
    hub: tuple[str, HubRecord], kept_run: Path, tmp_path: Path
) -> None:
    endpoint, record = hub
    out = tmp_path / "out"
    result = push(kept_run, out, endpoint, logged_in(tmp_path / "hf", "hf_x"), "--license", "mit")
    assert result.returncode == 0, result.stdout + result.stderr

    data_commit, card_commit = record.commits["my-org/repairs"]
    assert [line["value"]["path"] for line in card_commit if line["key"] != "header"] == ["README.md"]
    assert any(line["key"] == "lfsFile" and line["value"]["path"].startswith("data/") for line in data_commit)
    files = record.files("my-org/repairs")
    remote = DatasetCard(files["README.md"].decode())
    local = DatasetCard((out / "chat" / "README.md").read_text())
    assert remote.text == local.text and "# cligym repair trajectories" in remote.text
    assert str(remote) in record.validated  # the Hub's YAML check saw the card it stores

    metadata = remote.data.to_dict()
    assert (metadata["license"], metadata["task_categories"]) == ("mit", ["text-generation"])
    assert "cligym" in metadata["tags"] and metadata["size_categories"] == ["n<1K"]
    # configs and dataset_info are push_to_hub's: they name the files it uploaded, not our local parquet/.
    [config] = metadata["configs"]
    splits = {entry["split"]: entry["path"] for entry in config["data_files"]}
    assert set(splits) == {"train", "validation"}
    for split, pattern in splits.items():
        assert pattern == f"data/{split}-*" and fnmatch.filter(files, pattern)
    assert {split["name"]: split["num_examples"] for split in metadata["dataset_info"]["splits"]} == {
        "train": 2,
        "validation": 2,
    }
    assert "messages" in {feature["name"] for feature in metadata["dataset_info"]["features"]}
