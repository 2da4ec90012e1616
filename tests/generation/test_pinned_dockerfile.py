"""The gold Dockerfile a self-contained export rebuilds: every pip step held to gold's exact versions by a
constraints file, nothing else changed (rendered from files alone; the rebuilt image is checked in
test_harbor_export.py)."""

from __future__ import annotations

from pathlib import Path

from cligym.generation.gold.detect import detect_install_plan
from cligym.generation.gold.distributions import constraints_file
from cligym.generation.gold.dockerfile import (
    CONSTRAINTS_FILE,
    CONSTRAINTS_PATH,
    constrained_step,
    render_gold_dockerfile,
)
from cligym.generation.gold.source import SourceTree
from cligym.generation.operators.base import run
from cligym.generation.repo_spec import RepoSpec
from cligym.generation.task_dockerfile import task_dockerfile

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "examples" / "inventory"
CONSTRAINT = f"-c {CONSTRAINTS_PATH}"


def inventory_dockerfiles(**spec: object) -> tuple[str, str]:
    """The inventory example's gold Dockerfile as built and as pinned."""
    repo_spec = RepoSpec.model_validate({"name": "inventory", "source": {"path": str(INVENTORY)}, **spec})
    plan = detect_install_plan(INVENTORY).model_copy(update={"discovered_requirements": ["pytest-mock"]})
    source = SourceTree(root=INVENTORY, description="a local directory", digest="0")
    built = render_gold_dockerfile(repo_spec, plan, source, "cligym/base:1")
    return built, render_gold_dockerfile(repo_spec, plan, source, "cligym/base:1", pinned=True)


def test_every_pip_install_of_the_pinned_dockerfile_runs_with_golds_constraints() -> None:
    _, pinned = inventory_dockerfiles()
    installs = [line for line in pinned.splitlines() if "pip install" in line]
    assert len(installs) == 4  # --upgrade pip, the project with its test extra, pytest, the discovered plugin
    assert all(line.startswith(f"RUN python -m pip install {CONSTRAINT} ") for line in installs)


def test_the_constraints_come_in_before_the_first_pip_step_and_are_gone_after_the_last() -> None:
    _, pinned = inventory_dockerfiles()
    lines = pinned.splitlines()
    copy = lines.index(f"COPY {CONSTRAINTS_FILE} {CONSTRAINTS_PATH}")
    installs = [index for index, line in enumerate(lines) if "pip install" in line]
    assert copy < installs[0] and lines[installs[-1] + 1] == f"RUN rm -f {CONSTRAINTS_PATH}"


def test_pinning_changes_nothing_but_the_pip_steps() -> None:
    built, pinned = inventory_dockerfiles()
    added = {f"COPY {CONSTRAINTS_FILE} {CONSTRAINTS_PATH}", f"RUN rm -f {CONSTRAINTS_PATH}"}
    kept = [line.replace(f" {CONSTRAINT}", "") for line in pinned.splitlines() if line not in added]
    assert kept == built.splitlines()


def test_the_project_installs_editable_and_a_discovered_requirement_may_still_fail() -> None:
    _, pinned = inventory_dockerfiles()
    assert f"RUN python -m pip install {CONSTRAINT} -e '.[test]'" in pinned.splitlines()
    assert f"RUN python -m pip install {CONSTRAINT} pytest-mock || echo 'cligym: pytest-mock is not installable'" in (
        pinned.splitlines()
    )


def test_every_pip_install_of_a_specs_own_steps_is_constrained() -> None:
    _, pinned = inventory_dockerfiles(install=["pip install -r requirements.txt && python3 -m pip install ."])
    assert f"RUN pip install {CONSTRAINT} -r requirements.txt && python3 -m pip install {CONSTRAINT} ." in pinned


def test_commands_that_only_mention_pip_are_left_alone() -> None:
    for step in ("apt-get install -y python3-pip", "python -m pip uninstall -y six", "python -m pip download six"):
        assert constrained_step(step) == step
    assert constrained_step("sh -c 'pip3 install six'") == f"sh -c 'pip3 install {CONSTRAINT} six'"
    assert constrained_step("/opt/venv/bin/pip install six") == f"/opt/venv/bin/pip install {CONSTRAINT} six"


def test_a_break_step_that_installs_another_version_is_not_held_to_golds() -> None:
    _, pinned = inventory_dockerfiles()
    downgrade = run("python -m pip install --no-deps 'tabulate<0.9'")
    assert task_dockerfile(pinned, [downgrade]).splitlines()[-1] == "RUN python -m pip install --no-deps 'tabulate<0.9'"


def test_the_constraints_file_pins_each_distribution_to_its_exact_version() -> None:
    text = constraints_file("inventory", {"pytest": "9.2.0", "Pygments": "2.21.0", "tabulate": "0.10.0"})
    pins = [line for line in text.splitlines() if not line.startswith("#")]
    assert pins == ["pytest==9.2.0", "Pygments==2.21.0", "tabulate==0.10.0"]
    assert "inventory" in text.splitlines()[0]
