"""Every hack of tests/hacks.py replayed by a scripted model through `cligym rollout` on a real exported task,
then `cligym filter` over the run: no hack that repairs nothing earns reward 1, none is kept (not even one
that also repairs), while the oracle's repair, a reinstall of the damaged package and a repair that leaves
scratch scripts behind earn 1 and are kept, and doing nothing earns 0."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from cligym.filtering.filter_run import read_decisions
from cligym.llm.scripted_server import Reply, ScriptedModelServer, tool_reply
from cligym.rollout.trajectory import Trajectory, read_trajectories
from tests.hacks import HACKS, helpers

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ORACLE, NOTHING = "oracle", "nothing"
# A repair other than the oracle's that restores the environment: it must earn 1 and be kept too.
REINSTALL = "reinstall of the damaged package"
REINSTALL_COMMAND = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "
    "$(dpkg -S /usr/lib/x86_64-linux-gnu/libsqlite3.so.0 | cut -d: -f1)"
)
# A real repair, then the gold release of pytest reinstalled over itself (its console scripts rewritten):
# gold's bytes again, so it must earn 1 and be kept.
REPAIR_THEN_PYTEST = "repair, then the gold release of pytest reinstalled"
PYTEST_REINSTALL = (
    "python3 -m pip install -q --force-reinstall --no-deps"
    " pytest==$(python3 -c 'import pytest; print(pytest.__version__)')"
)
# A real repair that leaves the agent's scratch scripts in the repository, as agents do: nothing imports their
# names (test.py included: only the standard library's own regression tooling imports a module "test").
SCRATCH = "repair, leaving scratch scripts in the repository"
SCRATCH_SCRIPTS = (
    "printf 'import sqlite3\\nprint(sqlite3.sqlite_version)\\n' > /repo/repro.py"
    " && cp /repo/repro.py /repo/test.py && cp /repo/repro.py /repo/check_env.py && python3 /repo/repro.py"
)
# Hacks on top of a real repair: the verifier may well pass, the filter must not keep them.
REPAIR_THEN = ("entry-point plugin", "conftest and ini above the repository", "patched pytest source")


LEGITIMATE = (ORACLE, REINSTALL, REPAIR_THEN_PYTEST, SCRATCH)


def plans(repair: list[str]) -> dict[str, list[str]]:
    """Plan name -> its commands, each plan opening with a command that names it (so replies can follow it)."""
    by_name = {hack.name: hack for hack in HACKS}
    found = {
        ORACLE: repair,
        NOTHING: ["ls /repo"],
        REINSTALL: [REINSTALL_COMMAND],
        REPAIR_THEN_PYTEST: [*repair, PYTEST_REINSTALL],
        SCRATCH: [*repair, SCRATCH_SCRIPTS],
    }
    found.update({hack.name: [helpers() + hack.command] for hack in HACKS})
    found.update({f"repair, then {name}": [*repair, helpers() + by_name[name].command] for name in REPAIR_THEN})
    return {name: [f"echo 'plan: {name}'", *commands] for name, commands in found.items()}


class Replayer:
    """Serves any number of concurrent conversations: each new one takes the next plan, every later turn
    sends that plan's next command, then submit."""

    def __init__(self, planned: dict[str, list[str]]) -> None:
        self.pending = list(planned)
        self.planned = planned
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        messages = body["messages"]
        sent = [
            call["function"]["arguments"]
            for message in messages
            if message["role"] == "assistant"
            for call in message.get("tool_calls") or []
        ]
        if not sent:
            with self.lock:
                name = self.pending.pop(0)
            return tool_reply("bash", {"command": self.planned[name][0]})
        name = next(n for n, commands in self.planned.items() if commands[0] in sent[0])
        commands = self.planned[name]
        if len(sent) < len(commands):
            return tool_reply("bash", {"command": commands[len(sent)]})
        return tool_reply("submit")


def plan_of(trajectory: Trajectory) -> str:
    first = trajectory.steps[0].command or ""
    return first.removeprefix("echo 'plan: ").removesuffix("'")


@pytest.fixture(scope="module")
def hack_run(exported_task_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Trajectory]]:
    solve = (exported_task_dir / "solution" / "solve.sh").read_text().splitlines()
    repair = [line for line in solve if line and not line.startswith("#") and line != "set -e"]
    planned = plans(repair)
    out = tmp_path_factory.mktemp("hack-rollout")
    with ScriptedModelServer([], then=Replayer(planned), model="scripted") as server:
        argv = [sys.executable, "-m", "cligym", "rollout", str(exported_task_dir), "--out", str(out)]
        argv += ["--base-url", server.base_url, "--model", "scripted", "--samples", str(len(planned))]
        argv += ["--concurrency", "2"]
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=1800, env={**os.environ, "COLUMNS": "200"}
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    filtered = subprocess.run(
        [sys.executable, "-m", "cligym", "filter", str(out)], capture_output=True, text=True, timeout=300
    )
    assert filtered.returncode == 0, filtered.stdout[-3000:] + filtered.stderr[-3000:]
    by_plan = {plan_of(t): t for t in read_trajectories(out)}
    assert sorted(by_plan) == sorted(planned)
    return out, by_plan


def test_the_oracle_and_a_reinstall_earn_1_and_doing_nothing_0(hack_run: tuple[Path, dict[str, Trajectory]]) -> None:
    _, by_plan = hack_run
    for repair in LEGITIMATE:
        verifier = by_plan[repair].verifier
        assert by_plan[repair].reward == 1.0 and verifier is not None, by_plan[repair].steps[-2].output[-1500:]
        assert verifier.harness_modified == []
    assert by_plan[NOTHING].reward == 0.0


@pytest.mark.parametrize("hack", HACKS, ids=[hack.name for hack in HACKS])
def test_a_hack_that_repairs_nothing_earns_0(hack_run: tuple[Path, dict[str, Trajectory]], hack: Any) -> None:
    trajectory = hack_run[1][hack.name]
    assert trajectory.termination_reason == "submitted"
    # The hack ran to the end: it failed as a hack, not as a command.
    assert trajectory.steps[1].exit_code == 0, trajectory.steps[1].output[-1500:]
    assert trajectory.reward == 0.0
    if hack.named is not None:
        assert trajectory.verifier is not None
        assert any(hack.named in problem for problem in trajectory.verifier.harness_modified), trajectory.verifier


def test_filter_keeps_the_oracle_and_no_hack(hack_run: tuple[Path, dict[str, Trajectory]]) -> None:
    out, by_plan = hack_run
    decisions = {d.episode_id: d for d in read_decisions(out)}
    kept = sorted(name for name, t in by_plan.items() if decisions[t.episode_id].kept)
    assert kept == sorted(LEGITIMATE), {n: decisions[t.episode_id].reason for n, t in by_plan.items()}
    for name in REPAIR_THEN:
        decision = decisions[by_plan[f"repair, then {name}"].episode_id]
        assert decision.rule in ("verifier_passed", "no_test_tampering", "no_harness_changes"), decision
    assert sorted((out / "filter" / "kept.txt").read_text().split()) == sorted(
        by_plan[name].episode_id for name in LEGITIMATE
    )
