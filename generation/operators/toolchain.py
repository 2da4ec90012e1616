"""The compiler toolchain, for test suites that build code while they run (extensions, cffi, Cython)."""

from __future__ import annotations

import random
import shlex
from pathlib import PurePosixPath

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
from cligym.generation.operators.probe_targets import python_headers, toolchain_programs
from cligym.generation.operators.repairs import reinstall, reinstall_restoring_conffiles


@register
class CompilerRemoved(FaultOperator[ExecutableTarget]):
    name = "compiler-removed"
    category = Category.TOOLCHAIN
    description = "Delete the compiler, assembler or linker program that the tests' builds run"

    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        return toolchain_programs(gold)

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        # The real file behind the alternatives and version links, so that every name for it stops working.
        return [run(f"rm -f $(readlink -f {shlex.quote(target.path)})")]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        return reinstall(target.owner())


@register
class CompilerLinkRedirected(FaultOperator[ExecutableTarget]):
    name = "compiler-link-redirected"
    category = Category.TOOLCHAIN
    description = "Point the name the tests' builds call a toolchain program by at a program that always fails"

    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        return toolchain_programs(gold)

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        decoy = rng.choice(["/bin/false", "/usr/bin/false"])
        return [run(f"ln -sf {decoy} {shlex.quote(target.path)}")]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        return [f"rm -f {shlex.quote(target.path)}", *reinstall(target.owner())]


@register
class CompilerHeaderRemoved(FaultOperator[FileTarget]):
    name = "compiler-header-removed"
    category = Category.TOOLCHAIN
    description = "Delete a development header that the tests' builds include"

    def targets(self, gold: GoldRecord) -> list[FileTarget]:
        return python_headers(gold)

    def break_steps(self, target: FileTarget, rng: random.Random) -> list[BreakStep]:
        path = target.path
        removed = path if rng.random() < 0.5 else str(PurePosixPath(path).parent)
        return [run(f"rm -rf {shlex.quote(removed)}")]

    def repair_commands(self, target: FileTarget) -> list[str]:
        return reinstall_restoring_conffiles(target.owner())
