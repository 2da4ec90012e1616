"""The package installs and imports under one namespace, editable and not, and ships its data files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import background

REPO = Path(__file__).resolve().parent.parent
SUBPACKAGES = [
    "cligym",
    "cligym.generation",
    "cligym.rollout",
    "cligym.filtering",
    "cligym.training",
    "cligym.configs",
    "cligym.sandbox",
    "cligym.base_images",
    "cligym.cli",
    "cligym.agent",
]
IMPORT_ALL = (
    "import importlib, pathlib, sys\n"
    f"mods = {SUBPACKAGES!r}\n"
    "for name in mods: importlib.import_module(name)\n"
    "from cligym.configs import DEFAULT_SETTINGS_FILE\n"
    "from importlib import resources\n"
    "assert DEFAULT_SETTINGS_FILE.is_file(), DEFAULT_SETTINGS_FILE\n"
    "assert resources.files('cligym.base_images').joinpath('python.Dockerfile').is_file()\n"
    "import cligym.generation as g; print(pathlib.Path(g.__file__).resolve())\n"
)


def test_editable_install_imports_every_subpackage_from_the_source_tree(tmp_path: Path) -> None:
    # Run outside the repository so only the installed mapping can resolve cligym.generation.
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == REPO / "generation" / "__init__.py"


@pytest.mark.slow
def test_wheel_install_in_a_fresh_venv_imports_every_subpackage() -> None:
    # pip wheel, a new venv and pip install run in the background from the start of the session.
    install, work = background.finished("wheel")
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    env_dir = work / "venv"
    python = env_dir / "bin" / "python"
    # From the repository root, where the working directory comes first on sys.path: no top-level folder may
    # shadow the installed package.
    result = subprocess.run([str(python), "-c", IMPORT_ALL], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert str(env_dir) in result.stdout  # imported from site-packages, not the source tree
    cli = subprocess.run([str(env_dir / "bin" / "cligym"), "--help"], capture_output=True, text=True)
    assert cli.returncode == 0 and "doctor" in cli.stdout
    heavy = subprocess.run([str(python), "-c", "import trl"], capture_output=True, text=True)
    assert heavy.returncode != 0, "the base install must stay light: trl belongs in the [train] extra"


@pytest.mark.parametrize("ruff_args", [["check"], ["format", "--check"]])
def test_code_is_ruff_clean(ruff_args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", *ruff_args, str(REPO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


PACKAGE_DIRS = ("core", "generation", "rollout", "filtering", "training", "configs")


def test_code_type_checks_with_mypy() -> None:
    # The package as it is imported (cligym.*, laid out from package-dir), then the tests and benchmarks
    # against it: run on the bare directories, mypy would check no call from one module into another.
    # Started in the background when the session's tests were collected (tests/background.py).
    result, _ = background.finished("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
    # The package's modules were found and checked, not skipped as missing imports.
    checked = re.search(r"in (\d+) source files", result.stdout)
    package_files = sum(1 for d in PACKAGE_DIRS for _ in (REPO / d).rglob("*.py"))
    assert checked is not None and int(checked[1]) >= package_files, result.stdout
