"""Trajectories from a real scripted rollout, for the filtering and dataset tests: three exported tasks (the
bundled example's SQLite break, symptom-only and hinted, and the same break exported under a task id of its
own, a second broken environment for the dataset's split), five episodes each, driven by a scripted model
over real HTTP in real containers and judged by the tasks' verifiers.

Per task: samples 0 and 1 replay the oracle the same way (resolved, duplicates of each other), sample 2
looks around first and then repairs (resolved), sample 3 does nothing useful (reward 0), sample 4 edits a
test file and then repairs (resolved by the verifier, which restores the tests, but a tampering attempt).
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cligym.generation.export import export_harbor_task
from cligym.llm import ChatClient
from cligym.llm.scripted_server import Reply, ScriptedModelServer, tool_reply
from cligym.rollout.runner import roll_out
from cligym.rollout.task_dir import find_tasks
from cligym.settings import load_settings
from tests.generation.conftest import ValidatedTask
from tests.generation.conftest import validated_task as validated_task
from tests.rollout.conftest import exported_task_dir as exported_task_dir

TASK = "inventory-sqlite-soname"  # the validated task's id
OTHER_TASK = "inventory-sqlite-soname-elsewhere"
LOOK = "cd /repo && python -m pytest -q -x 2>&1 | tail -5"
TAMPER = "cd /repo && sed -i 's/^import sqlite3$/import sqlite3  # checked/' inventory/store.py tests/test_store.py"


def _same_commands(commands: list[str], _turn: int) -> list[str]:
    return commands


def _replying(commands_for: Callable[[int], list[str]]) -> Callable[[dict[str, Any]], Reply]:
    def reply(body: dict[str, Any]) -> Reply:
        turn = sum(1 for message in body["messages"] if message["role"] == "assistant")
        commands = commands_for(turn)
        if turn < len(commands):
            return tool_reply("bash", {"command": commands[turn]}, prompt_tokens=800 + 100 * turn)
        return Reply(content="The tests pass again.", tool_calls=tool_reply("submit").tool_calls)

    return reply


@pytest.fixture(scope="session")
def rollout_run(
    validated_task: ValidatedTask, exported_task_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A rollout run directory with fifteen recorded episodes over three tasks (see the module docstring)."""
    tasks_dir = tmp_path_factory.mktemp("rollout-tasks")
    shutil.copytree(exported_task_dir, tasks_dir / exported_task_dir.name)
    export_harbor_task(validated_task.task, validated_task.gold, validated_task.gold_context, tasks_dir, hinted=True)
    other = validated_task.task.model_copy(update={"task_id": OTHER_TASK})
    export_harbor_task(other, validated_task.gold, validated_task.gold_context, tasks_dir, hinted=False)
    tasks = find_tasks([tasks_dir])
    solve = (exported_task_dir / "solution" / "solve.sh").read_text().splitlines()
    oracle = [line for line in solve if line and not line.startswith("#") and line != "set -e"]
    plans = [
        (2, oracle),  # samples 0 and 1
        (3, [LOOK, *oracle]),
        (4, ["ls /repo"]),
        (5, [TAMPER, *oracle]),
    ]
    run_dir = tmp_path_factory.mktemp("rollout") / "run"
    for samples, commands in plans:
        with ScriptedModelServer(
            [], then=_replying(functools.partial(_same_commands, commands)), model="Qwen/Qwen3-8B"
        ) as server:
            client = ChatClient(server.base_url, server.model, temperature=0.6, top_p=0.95)
            roll_out(tasks, run_dir, client, load_settings(), samples=samples, concurrency=2)
    return run_dir
