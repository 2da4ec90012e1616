"""task.toml is one model: what the exporter writes the rollout and dataset read back, and bad files are named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cligym.errors import CligymError
from cligym.generation.export.task_toml import TaskInfo, TaskMetadata, TaskToml, VerifierConfig


def test_what_is_written_reads_back_the_same_and_is_plain_toml(tmp_path: Path) -> None:
    config = TaskToml(
        task=TaskInfo(name="cligym/demo-1", keywords=["cligym", "repair"]),
        metadata=TaskMetadata(repo="demo", category="shared-library", fail_to_pass=3, pass_to_pass=7, shallow=False),
        verifier=VerifierConfig(timeout_sec=612.5),
    )
    path = tmp_path / "task.toml"
    path.write_text(config.to_toml())
    assert TaskToml.read(path) == config
    raw = tomllib.loads(path.read_text())
    # The verifier starts with no shell start-up file sourced (generation/export/shell_startup.py).
    assert raw["verifier"] == {"timeout_sec": 612.5, "environment_mode": "shared", "env": {"BASH_ENV": "", "ENV": ""}}
    assert raw["metadata"]["shallow"] is False and raw["schema_version"] == "1.4"
    # A task whose depth sweep did not run says nothing about depth.
    assert "shallow" not in TaskToml(metadata=TaskMetadata(repo="demo")).to_toml()


def test_a_malformed_or_mistyped_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "task.toml"
    path.write_text("[verifier\n")
    with pytest.raises(CligymError, match=r"task.toml: not valid TOML"):
        TaskToml.read(path)
    path.write_text('[verifier]\ntimeout_sec = "soon"\n')
    with pytest.raises(CligymError, match=r"task.toml: verifier.timeout_sec: "):
        TaskToml.read(path)
