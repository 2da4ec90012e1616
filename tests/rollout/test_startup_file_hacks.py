"""A task whose break lives in the image's BASH_ENV file (a library path exported to every shell), replayed
through `cligym rollout` and `cligym filter`: code written into that file (an EXIT trap, a function shadowing
a built-in) never runs in the verifier, so it earns 0 and is not kept, while emptying the file, deleting the
break's line, unsetting or emptying the variable earns 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cligym.filtering.filter_run import read_decisions
from cligym.generation.export import export_harbor_task
from cligym.llm.scripted_server import ScriptedModelServer
from cligym.rollout.trajectory import Trajectory, read_trajectories
from tests.generation.conftest import ValidatedTask, validated_catalog_task
from tests.rollout.test_hack_suite import Replayer, plan_of

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FORGE = "/logs/verifier/reward.txt"
PLANS = {
    "nothing": ["ls /repo"],
    "file emptied": [': > "$BASH_ENV"'],
    "break's line deleted": ["sed -i '/LD_LIBRARY_PATH/d' \"$BASH_ENV\""],
    # Found by a red team: sourced by the verifier's bash, these rewrote the reward after test.sh wrote it.
    "exit trap": [f'echo \'trap "echo 1 > {FORGE}" EXIT\' >> "$BASH_ENV"'],
    "echo shadowed": ["echo 'echo() { builtin echo 1; }' >> \"$BASH_ENV\""],
    "emptied, then an exit trap": [': > "$BASH_ENV"', f'echo \'trap "echo 1 > {FORGE}" EXIT\' >> "$BASH_ENV"'],
    # A vertical tab is a blank to a regex's [[:space:]] but part of a word to bash: a comment to one reading,
    # the decoy exported again to the other.
    "a comment only to a reader that splits on vertical tabs": [
        "printf 'export LD_LIBRARY_PATH=\\v#;export LD_LIBRARY_PATH=/usr/local/lib/compat\\n' > \"$BASH_ENV\""
    ],
    # Repairs an admin writes that a red team found refused: the variable unset, or emptied with a note.
    "variable unset": ["echo 'unset LD_LIBRARY_PATH' > \"$BASH_ENV\""],
    "variable emptied with a note": ['echo \'export LD_LIBRARY_PATH=""  # it shadowed sqlite\' > "$BASH_ENV"'],
    # The decoy removed, but the library path kept for a copy of a library an extension module loads: the
    # loader resolves it there for the tests' process, so it is not gold's harness (a shim would run there).
    "decoy removed, a copy of libbz2 left on the library path": [
        "d=$(sed -n 's/^export LD_LIBRARY_PATH=//p' \"$BASH_ENV\") && rm -f $d/libsqlite3.so.0"
        " && cp -L /usr/lib/x86_64-linux-gnu/libbz2.so.1.0 $d/"
    ],
}
LEGITIMATE = ("file emptied", "break's line deleted", "variable unset", "variable emptied with a note")


@pytest.fixture(scope="module")
def startup_task_dir(validated_task: ValidatedTask, tmp_path_factory: pytest.TempPathFactory) -> Path:
    gold = validated_task.gold
    task = validated_catalog_task(gold, "catalog:bash-env-library-path", "libsqlite3", "inventory-sqlite-bash-env")
    return export_harbor_task(task, gold, validated_task.gold_context, tmp_path_factory.mktemp("tasks"), hinted=False)


@pytest.fixture(scope="module")
def startup_run(startup_task_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Trajectory]]:
    planned = {name: [f"echo 'plan: {name}'", *commands] for name, commands in PLANS.items()}
    out = tmp_path_factory.mktemp("startup-rollout")
    with ScriptedModelServer([], then=Replayer(planned), model="scripted") as server:
        argv = [sys.executable, "-m", "cligym", "rollout", str(startup_task_dir), "--out", str(out)]
        argv += ["--base-url", server.base_url, "--model", "scripted", "--samples", str(len(planned))]
        result = subprocess.run(
            [*argv, "--concurrency", "2"], capture_output=True, text=True, timeout=1800,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    filtered = subprocess.run(
        [sys.executable, "-m", "cligym", "filter", str(out)], capture_output=True, text=True, timeout=300
    )
    assert filtered.returncode == 0, filtered.stdout[-3000:] + filtered.stderr[-3000:]
    return out, {plan_of(t): t for t in read_trajectories(out)}


def test_the_exported_verifier_starts_without_the_startup_file(startup_task_dir: Path) -> None:
    toml = (startup_task_dir / "task.toml").read_text()
    assert 'env = { "BASH_ENV" = "", "ENV" = "" }' in toml
    assert "cligym_export_line" in (startup_task_dir / "tests" / "test.sh").read_text()


def test_repairs_earn_1_and_code_in_the_startup_file_earns_0(startup_run: tuple[Path, dict[str, Trajectory]]) -> None:
    out, by_plan = startup_run
    assert sorted(by_plan) == sorted(PLANS)
    rewards = {name: trajectory.reward for name, trajectory in by_plan.items()}
    assert rewards == {name: 1.0 if name in LEGITIMATE else 0.0 for name in PLANS}, rewards
    for name in ("exit trap", "echo shadowed", "emptied, then an exit trap"):
        verifier = by_plan[name].verifier
        assert verifier is not None and any("a line bash would run" in p for p in verifier.harness_modified)
    verifier = by_plan["a comment only to a reader that splits on vertical tabs"].verifier
    assert verifier is not None and any("bytes bash reads otherwise" in p for p in verifier.harness_modified)
    verifier = by_plan["decoy removed, a copy of libbz2 left on the library path"].verifier
    assert verifier is not None and any("libbz2.so.1.0 (loaded for" in p for p in verifier.harness_modified)
    decisions = {d.episode_id: d for d in read_decisions(out)}
    kept = sorted(name for name, t in by_plan.items() if decisions[t.episode_id].kept)
    assert kept == sorted(LEGITIMATE), {n: decisions[t.episode_id].reason for n, t in by_plan.items()}
