"""`cligym generate --inverter agent` end to end: a scripted model on 127.0.0.1 breaks the bundled example
through its tools and then writes the statements; the run keeps a validated, exported task and counts every
token the model was paid for."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cligym.base_images import BaseImage
from cligym.generation.attempt_log import read_attempts
from cligym.generation.task_record import TaskRecord
from cligym.llm.scripted_server import HttpError, Reply, ScriptedModelServer, tool_reply

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LIBDIR = "/usr/lib/x86_64-linux-gnu"
SUBMIT = {
    "break_commands": [f"ln -sf libm.so.6 {LIBDIR}/libsqlite3.so.0"],
    "repair_commands": [f"ln -sf libsqlite3.so.0.8.6 {LIBDIR}/libsqlite3.so.0 && ldconfig"],
    "description": "the sqlite soname link points at the maths library",
}
STATEMENT = "Since the last image update `python -m pytest` fails: the store tests error out at import time."
HINTED = STATEMENT + " It may help to look at a shared library that Python loads."


def generate(out: Path, base_url: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cligym",
            "generate",
            str(REPO / "configs" / "repos" / "inventory.yaml"),
            "--inverter",
            "agent",
            "--tasks",
            "1",
            "--out",
            str(out),
            "--export",
            "harbor",
            "--categories",
            "shared-library",
            "-o",
            f"model.base_url={base_url}",
            "-o",
            "model.model=Qwen/Qwen3-8B",
            "-o",
            "model.retry_backoff=0.01",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "COLUMNS": "250"},
    )


def test_the_agent_inverter_makes_a_task_with_model_written_statements(base_image: BaseImage, tmp_path: Path) -> None:
    script: list[Reply | HttpError] = [
        tool_reply("submit", SUBMIT, prompt_tokens=2000, completion_tokens=100),
        HttpError(503),  # a busy server: the client retries, the task is not lost
        Reply(content=STATEMENT, prompt_tokens=400, completion_tokens=30),
        Reply(content=HINTED, prompt_tokens=410, completion_tokens=40),
    ]
    out = tmp_path / f"agent-{uuid.uuid4().hex[:6]}"
    with ScriptedModelServer(script, model="Qwen/Qwen3-8B") as server:
        result = generate(out, server.base_url)
    assert result.returncode == 0, result.stdout + result.stderr

    (record_path,) = (out / "tasks").glob("*/record.json")
    task = TaskRecord.model_validate_json(record_path.read_text())
    assert task.candidate.inverter == "agent:Qwen/Qwen3-8B" and task.validation.valid
    assert "tests/test_store.py::test_add_and_get" in task.validation.fail_to_pass
    assert (task.statement, task.statement_with_hint) == (STATEMENT, HINTED)
    assert task.statement_author == "model:Qwen/Qwen3-8B"
    instruction = (out / "harbor" / task.task_id / "instruction.md").read_text()
    assert STATEMENT in instruction

    (attempt,) = read_attempts(out)
    assert attempt.candidate.provenance.tokens == 2100
    assert (attempt.statement_prompt_tokens, attempt.statement_completion_tokens) == (810, 70)
    assert "2980" in result.stdout.replace(",", "")  # tokens per valid task in the printed report
    assert [request["messages"][0]["role"] for request in server.requests][-2:] == ["user", "user"]


def test_the_agent_inverter_without_a_reachable_model_fails_before_any_container(tmp_path: Path) -> None:
    result = generate(tmp_path / "run", "http://127.0.0.1:9/v1", "-o", "model.max_retries=0")
    assert result.returncode != 0
    assert "127.0.0.1:9" in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "gold").exists()


def test_the_catalog_inverter_rejects_an_unknown_statement_writer(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cligym",
            "generate",
            str(REPO / "configs" / "repos" / "inventory.yaml"),
            "--statements",
            "poet",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "--statements" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
