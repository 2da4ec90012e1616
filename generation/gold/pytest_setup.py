"""How pytest set itself up in the gold environment, and the options that pin every later run to the same.

The verifier runs where an agent had root, so what pytest would otherwise pick up by itself is fixed from
the gold run instead of searched for again: the rootdir, the configuration file (a ``pytest.ini`` or
``conftest.py`` dropped above the repository is not read), and the plugins (entry-point autoloading is off;
the plugins the gold session loaded from entry points are named with ``-p``, so one an agent installs with
a ``pytest11`` entry point is not loaded).
"""

from __future__ import annotations

import json
import shlex

from pydantic import BaseModel, Field

# pytest reads ``-c /dev/null`` as a configuration file without a [pytest] section: no options at all.
NO_CONFIG_FILE = "/dev/null"


class PytestSetup(BaseModel):
    """What the gold session's pytest chose (recorded by our report plugin at ``pytest_configure``)."""

    rootdir: str = Field(description="Absolute rootdir of the gold session.")
    inifile: str | None = Field(None, description="Absolute path of the configuration file it read, if any.")
    plugins: list[str] = Field(default_factory=list, description="Modules of the plugins loaded from entry points.")


def setup_from_report(raw: bytes | str | None) -> PytestSetup | None:
    """The setup our report plugin wrote into its report (None when the report has none: an old pytest)."""
    if raw is None:
        return None
    try:
        found = json.loads(raw).get("setup")
        return PytestSetup.model_validate(found) if found else None
    except (ValueError, AttributeError):
        return None


def pinned_options(setup: PytestSetup) -> str:
    """pytest options that reproduce ``setup`` without searching the file system or the installed
    distributions for anything else."""
    options = [f"--rootdir={setup.rootdir}", "-c", setup.inifile or NO_CONFIG_FILE, f"--confcutdir={setup.rootdir}"]
    for plugin in setup.plugins:
        options += ["-p", plugin]
    return shlex.join(options)
