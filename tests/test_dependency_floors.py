"""The dependency floors pyproject.toml declares hold: scripts/check_floors.py installs them in a venv layered
over .venv and runs our code against them (scripts/floor_probe.py and the Docker-free tests), so a floor set
too low fails here rather than on a user's machine."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests import background

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "check_floors.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_floors", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


floors = load_script()


def test_every_dependency_has_a_floor_or_a_reason_to_stay_at_the_venvs_version() -> None:
    groups = floors.read_groups()
    names = set()
    for group, requirements in groups.items():
        for requirement in requirements:
            name = floors.canonicalize_name(requirement.name)
            names.add(name)
            pinned = any(spec.operator == "==" for spec in requirement.specifier)
            assert floors.floor_of(requirement) is not None or pinned, f"[{group}] {requirement} has no floor"
            assert not pinned or name in floors.NOT_AT_FLOOR, f"[{group}] {requirement} is pinned, not floored"
    assert set(floors.NOT_AT_FLOOR) <= names, "a reason is kept for a package no longer declared"


def test_an_extra_naming_our_own_extras_has_their_floors() -> None:
    by_group = floors.floors_by_group(floors.read_groups())
    assert by_group["dev"]["trl"] == by_group["train"]["trl"]
    assert by_group["dev"]["deepspeed"] == by_group["deepspeed"]["deepspeed"]
    assert "torch" not in by_group["train"]  # reused from .venv, never installed at its floor


def test_the_highest_floor_is_installed_first_and_a_lower_one_gets_a_phase_of_its_own() -> None:
    groups = {
        "train": [Requirement("transformers>=5.0"), Requirement("huggingface_hub>=1.3")],
        "data": [Requirement("huggingface-hub>=0.25"), Requirement("datasets>=4.7")],
    }
    by_group = floors.floors_by_group(groups)
    highest = floors.highest_floors(by_group)
    assert highest == {"datasets": Version("4.7"), "huggingface-hub": Version("1.3"), "transformers": Version("5.0")}
    assert floors.own_floor_phases(by_group, highest) == {"data": {"huggingface-hub": Version("0.25")}}


def test_extras_naming_each_other_in_a_cycle_are_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "cligym"\ndependencies = []\n'
        '[project.optional-dependencies]\na = ["cligym[b]"]\nb = ["cligym[a]"]\n'
    )
    with pytest.raises(floors.FloorsError, match="cycle"):
        floors.read_groups(pyproject)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a cold machine also builds DeepSpeed's wheel and its CPU op (~3 min more)
def test_the_declared_floors_install_together_and_run_our_code() -> None:
    # scripts/check_floors.py started in the background when the session's tests were collected.
    result, _ = background.finished("floors")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    # Both phases ran: every floor together with the tests, then [data] at its own floors.
    assert "==> tests at the floors" in result.stdout and "==> probe [data] at its own floors" in result.stdout
