"""A real exported task for the rollout tests: the bundled inventory example's gold environment with a
validated catalog break (the SQLite library its tests load), exported as a Harbor task directory."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

import pytest

from cligym.generation.export import export_harbor_task
from tests.generation.conftest import ValidatedTask
from tests.generation.conftest import validated_task as validated_task

HARBOR_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cligym" / "harbor-venv"


@pytest.fixture(scope="session")
def exported_task_dir(validated_task: ValidatedTask, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The validated task exported as a Harbor task directory (symptom-only)."""
    return export_harbor_task(
        validated_task.task,
        validated_task.gold,
        validated_task.gold_context,
        tmp_path_factory.mktemp("tasks"),
        hinted=False,
    )


@pytest.fixture(scope="session")
def harbor_python() -> Path:
    """The Python of the real Harbor client from PyPI, in a Python >= 3.12 venv cached per machine."""
    python = HARBOR_VENV / "bin" / "python"
    if not (HARBOR_VENV / "bin" / "harbor").exists():
        pythons = sorted(glob.glob("/root/.pyenv/versions/3.1[2-9]*/bin/python")) or sorted(
            glob.glob("/usr/bin/python3.1[2-9]")
        )
        assert pythons, "Harbor needs Python >= 3.12 (pyenv provides one on this machine)"
        subprocess.run([pythons[-1], "-m", "venv", str(HARBOR_VENV)], check=True)
        subprocess.run([str(HARBOR_VENV / "bin" / "pip"), "install", "-q", "harbor"], check=True)
    return python


HARBOR_312_VENV = HARBOR_VENV.with_name("harbor-venv-py3.12")


@pytest.fixture(scope="session")
def harbor_python_312() -> Path:
    """The Python of the real Harbor client from PyPI in a venv on Python 3.12 exactly, cached per machine:
    the version CI checks our files against Harbor's own models on. A venv of its own, because the shared
    ``harbor-venv`` takes the newest Python >= 3.12 the machine has (3.13 here); installing takes ~40 s once."""
    python = HARBOR_312_VENV / "bin" / "python"
    config = HARBOR_312_VENV / "pyvenv.cfg"
    # An interrupted install leaves no `harbor` script; an upgraded pyenv leaves another version: rebuild.
    ready = (HARBOR_312_VENV / "bin" / "harbor").exists() and "version = 3.12." in config.read_text()
    if not ready:
        pythons = sorted(glob.glob("/root/.pyenv/versions/3.12*/bin/python")) or sorted(
            glob.glob("/usr/bin/python3.12")
        )
        assert pythons, "Harbor's conformance checks run on Python 3.12; none found (pyenv provides one here)"
        subprocess.run([pythons[-1], "-m", "venv", "--clear", str(HARBOR_312_VENV)], check=True)
        subprocess.run([str(HARBOR_312_VENV / "bin" / "pip"), "install", "-q", "harbor"], check=True)
    return python
