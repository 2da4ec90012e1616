"""The gold session's pytest setup, read from our report and turned into options that pin later runs."""

from __future__ import annotations

import json
import shlex

from cligym.generation.gold.dockerfile import pytest_run_command
from cligym.generation.gold.pytest_setup import NO_CONFIG_FILE, PytestSetup, pinned_options, setup_from_report


def test_the_setup_is_read_from_the_report_and_missing_when_the_report_has_none() -> None:
    setup = {"rootdir": "/repo", "inifile": "/repo/tox.ini", "plugins": ["pytest_cov.plugin", "pytest_mock"]}
    found = setup_from_report(json.dumps({"tests": {}, "setup": setup}))
    assert found == PytestSetup(rootdir="/repo", inifile="/repo/tox.ini", plugins=["pytest_cov.plugin", "pytest_mock"])
    assert setup_from_report(json.dumps({"tests": {}, "setup": None})) is None
    assert setup_from_report(json.dumps({"tests": {}})) is None
    assert setup_from_report(b"not json") is None
    assert setup_from_report(None) is None


def test_pinned_runs_name_rootdir_config_and_plugins_and_load_nothing_else() -> None:
    setup = PytestSetup(rootdir="/repo", inifile=None, plugins=["pytest_mock"])
    options = shlex.split(pinned_options(setup))
    assert options == ["--rootdir=/repo", "-c", NO_CONFIG_FILE, "--confcutdir=/repo", "-p", "pytest_mock"]
    command = pytest_run_command("python -m pytest tests", setup=setup)
    assert "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1" in command and command.endswith(pinned_options(setup))
    unpinned = pytest_run_command("python -m pytest tests")
    assert "AUTOLOAD" not in unpinned and "--rootdir" not in unpinned
