"""The gold record's fingerprint of the test harness (see ``harness_integrity.py``, which runs in the
container): recorded once per gold image, checked after every repair we judge and by the exported verifiers."""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from cligym.sandbox import Sandbox

if TYPE_CHECKING:  # the record holds a manifest: importing it here would be circular
    from cligym.generation.gold.record import GoldRecord

HARNESS_SCRIPT = "harness_integrity.py"
HARNESS_SCRIPT_IN_CONTAINER = "/tmp/cligym-harness-integrity.py"
HARNESS_MANIFEST_IN_CONTAINER = "/tmp/cligym-harness.json"
# How the check names each difference on its output (and in the verifier's harness.txt).
HARNESS_PREFIX = "harness_modified: "


class HarnessManifest(BaseModel):
    """sha256 of each harness file, and the directories whose start-up hooks count."""

    files: dict[str, str] = Field(default_factory=dict)
    hook_dirs: list[str] = Field(default_factory=list)


def harness_script() -> str:
    return resources.files("cligym.generation.gold").joinpath(HARNESS_SCRIPT).read_text()


def stdlib_harness_files(gold: GoldRecord) -> list[str]:
    """Source files of the standard-library modules pytest itself needs."""
    footprint = gold.footprint
    if footprint is None:
        return []
    harness = footprint.harness()
    return sorted(
        m.file
        for m in gold.probe.modules
        if m.origin == "stdlib" and m.name in harness and m.file is not None and m.file.endswith(".py")
    )


def record_harness(box: Sandbox, plugins: list[str], files: list[str]) -> HarnessManifest:
    box.write_file(HARNESS_SCRIPT_IN_CONTAINER, harness_script())
    command = " ".join(["python3 -I -S", HARNESS_SCRIPT_IN_CONTAINER, "record", *plugins, "--files", *files])
    result = box.exec(command, timeout=300)
    if not result.ok:
        raise RuntimeError(f"recording the test harness failed: {result.stderr[-2000:]}")
    return HarnessManifest.model_validate(json.loads(result.stdout))


def harness_problems(box: Sandbox, manifest: HarnessManifest) -> list[str]:
    """What differs from gold in ``box`` (an empty list: the harness is intact)."""
    box.write_file(HARNESS_SCRIPT_IN_CONTAINER, harness_script())
    box.write_file(HARNESS_MANIFEST_IN_CONTAINER, manifest.model_dump_json())
    result = box.exec(f"python3 -I -S {HARNESS_SCRIPT_IN_CONTAINER} check {HARNESS_MANIFEST_IN_CONTAINER}", timeout=300)
    found = [line.removeprefix(HARNESS_PREFIX) for line in result.stdout.splitlines() if line.strip()]
    if result.ok:
        return []
    return found or [f"the harness check could not run: {(result.stdout + result.stderr).strip()[-300:]}"]
