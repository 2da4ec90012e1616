"""System files and packages: a data file, configuration file or program the tests use is gone or wrong."""

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


@register
class PackagedFileRemoved(FaultOperator[FileTarget]):
    name = "packaged-file-removed"
    category = Category.FILE_SYSTEM
    raises = "FileNotFoundError"
    description = "Delete a data or configuration file the tests read that a Debian package installed"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return packaged_files(gold)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f"rm -f {shlex.quote(target.path)}")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return reinstall_restoring_conffiles(target.owner())


@register
class PackagedFileLinkBroken(FaultOperator[FileTarget]):
    name = "packaged-file-link-broken"
    category = Category.FILE_SYSTEM
    raises = "FileNotFoundError"
    description = "Replace a file the tests read with a symlink that points nowhere"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return packaged_files(gold)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        path = shlex.quote(target.path)
        where = rng.choice(["/var/lib/dpkg/alternatives/missing", "../share/base-files/stale", "/run/config/live"])
        return [run(f"rm -f {path} && ln -s {where} {path}")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return [f"rm -f {shlex.quote(target.path)}", *reinstall_restoring_conffiles(target.owner())]


@register
class ExecutableRemoved(FaultOperator[ExecutableTarget]):
    name = "executable-removed"
    category = Category.SYSTEM_PACKAGE
    description = "Delete a program the tests run that a Debian package installed"

    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        return packaged_executables(gold)

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f"rm -f {shlex.quote(target.path)}")]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        return reinstall_restoring_conffiles(target.owner())
