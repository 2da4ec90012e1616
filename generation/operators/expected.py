"""Which gold tests a break of a target should fail, from the per-test probe.

A target some probed test uses yields those tests; a target the probe saw no test use yields none (the
operator has nothing to aim at there); a record without a per-test probe yields None (unknown: the whole
suite decides). Breaking a module pytest itself imports fails every test.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cligym.generation.gold.footprint import Raising, UseKind
from cligym.generation.gold.record import GoldRecord

if TYPE_CHECKING:  # base.py imports this module
    from cligym.generation.operators.base import TargetBase


def _use_of(target: TargetBase) -> tuple[UseKind, str] | None:
    """How the footprint records the use of ``target``: the kind of use and the thing used."""
    from cligym.generation.operators import base

    if isinstance(target, base.SharedLibraryTarget):
        return "libraries", target.path
    if isinstance(target, base.ExecutableTarget):
        return "executables", target.path
    if isinstance(target, base.FileTarget | base.NodePackageTarget):
        return "files", target.path
    if isinstance(target, base.EnvVarTarget):
        return "env", target.name
    if isinstance(target, base.FixtureTarget):
        return "fixtures", target.name
    if isinstance(target, base.HostTarget):
        return "hosts", target.name
    return None


def predicted_failures(gold: GoldRecord, target: TargetBase, raising: Raising | None = None) -> frozenset[str] | None:
    """The gold tests that use ``target`` (None when the record has no per-test probe); with ``raising``, the
    tests an import failing with that exception reaches (guarded imports do not spread it)."""
    from cligym.generation.operators import base

    footprint = gold.footprint
    if footprint is None:
        return None
    if isinstance(target, base.ModuleTarget | base.DistributionTarget):
        if footprint.is_harness_module(target.name, raising):
            return frozenset(gold.gold_tests)
        return footprint.tests_using("modules", target.name, raising)
    use = _use_of(target)
    if use is None:  # a measured resource limit: its operators know which tests it fails
        return None
    kind, thing = use
    found = footprint.tests_using(kind, thing, raising)
    if not found and kind in ("libraries", "executables", "files"):
        # Probed paths are real paths for libraries; a target may name the link.
        found = footprint.tests_using(kind, os.path.realpath(thing), raising)
    return found
