"""File-system structure: temporary directories, exec bits and files that exist but are empty.

Tests run as root, who ignores read and write permission bits; what still stops root is a missing exec bit,
a file where a directory should be, and a link that leads nowhere.
"""

from __future__ import annotations

import random
import shlex

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import (
    BreakStep,
    Category,
    ExecutableTarget,
    FaultOperator,
    FileTarget,
    register,
    run,
)
from cligym.generation.operators.probe_targets import packaged_executables, packaged_files
from cligym.generation.operators.repairs import reinstall_restoring_conffiles

RESTORE_TMP = "rm -rf /tmp && mkdir -m 1777 /tmp"


def scratch_users(gold: GoldRecord) -> frozenset[str] | None:
    """Tests that name paths under /tmp themselves (tempfile moves elsewhere when /tmp is unusable)."""
    footprint = gold.footprint
    if footprint is None:
        return None
    return footprint.tests_using_any("scratch", footprint.things("scratch"))


class _TmpFault(FaultOperator[FileTarget]):
    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        users = scratch_users(gold)
        return [FileTarget(path="/tmp")] if users is None or users else []

    def expected_failures(self, gold: GoldRecord, target: FileTarget) -> frozenset[str] | None:
        return scratch_users(gold)


@register
class TmpReplacedByFile(_TmpFault):
    name = "tmp-replaced-by-file"
    category = Category.FILE_SYSTEM
    description = "Replace /tmp with a regular file so no temporary file or directory can be created"

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        content = rng.choice(["", "placeholder", "moved to /var/tmp"])
        return [run(f"rm -rf /tmp && printf '{content}' > /tmp")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return [RESTORE_TMP]


@register
class TmpDanglingLink(_TmpFault):
    name = "tmp-dangling-link"
    category = Category.FILE_SYSTEM
    description = "Replace /tmp with a symlink to a directory that does not exist"

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        where = rng.choice(["/var/tmp/scratch", "/mnt/tmpfs", "/run/user/0/tmp"])
        return [run(f"rm -rf /tmp && ln -s {where} /tmp")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return [RESTORE_TMP]


@register
class ExecutableNotExecutable(FaultOperator[ExecutableTarget]):
    name = "executable-not-executable"
    category = Category.FILE_SYSTEM
    description = "Clear every exec bit of a program the tests run (root cannot run it either)"

    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        return packaged_executables(gold)

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        mode = rng.choice(["644", "600", "444"])
        return [run(f"chmod {mode} $(readlink -f {shlex.quote(target.path)})")]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        return [f"chmod 755 $(readlink -f {shlex.quote(target.path)})"]


@register
class PackagedFileEmptied(FaultOperator[FileTarget]):
    name = "packaged-file-emptied"
    category = Category.FILE_SYSTEM
    description = "Truncate a data or configuration file the tests read to zero bytes"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return packaged_files(gold)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f": > $(readlink -f {shlex.quote(target.path)})")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        path = shlex.quote(target.path)
        return [f"rm -f $(readlink -f {path})", *reinstall_restoring_conffiles(target.owner())]
