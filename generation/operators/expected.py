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
    from cligym.generation.operators.base import Target

_KIND_USES: dict[str, UseKind] = {
    "shared_library": "libraries",
    "executable": "executables",
    "file": "files",
    "env_var": "env",
    "fixture": "fixtures",
    "host": "hosts",
}


def predicted_failures(gold: GoldRecord, target: Target, raising: Raising | None = None) -> frozenset[str] | None:
    """The gold tests that use ``target`` (None when the record has no per-test probe); with ``raising``, the
    tests an import failing with that exception reaches (guarded imports do not spread it)."""
    footprint = gold.footprint
    if footprint is None:
        return None
    if target.kind in ("module", "distribution"):
        name = target.name or ""
        if footprint.is_harness_module(name, raising):
            return frozenset(gold.gold_tests)
        return footprint.tests_using("modules", name, raising)
    kind = _KIND_USES[target.kind]
    thing = target.name if kind in ("env", "fixtures", "hosts") else target.path
    found = footprint.tests_using(kind, thing or "", raising)
    if not found and thing and kind in ("libraries", "executables", "files"):
        # Probed paths are real paths for libraries; a target may name the link.
        found = footprint.tests_using(kind, os.path.realpath(thing), raising)
    return found
