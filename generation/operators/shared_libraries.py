"""Shared-library corruption: the loader can no longer map a library the tests load."""

from __future__ import annotations

import random
import shlex

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, FaultOperator, Target, env, register, run
from cligym.generation.operators.probe_targets import breakable_libraries, soname_link
from cligym.generation.operators.repairs import reinstall


@register
class ElfHeaderZeroed(FaultOperator):
    name = "elf-header-zeroed"
    category = Category.SHARED_LIBRARY
    raises = "ImportError"
    description = "Overwrite the ELF magic bytes of a shared library the tests load"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return breakable_libraries(gold)

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        length = rng.choice([4, 8, 16])
        path = shlex.quote(target.path or "")
        return [run(f"dd if=/dev/zero of={path} bs=1 count={length} conv=notrunc status=none")]

    def repair_commands(self, target: Target) -> list[str]:
        return reinstall(target.debian_package or "")


@register
class LibraryTruncated(FaultOperator):
    name = "library-truncated"
    category = Category.SHARED_LIBRARY
    description = "Truncate a shared library the tests load to a fraction of its size"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return breakable_libraries(gold)

    def expected_failures(self, gold: GoldRecord, target: Target) -> frozenset[str] | None:
        # The loader maps the missing tail and the process dies of SIGBUS when it touches it: a test run
        # that loads the library in-process crashes, and every test it had not reported yet fails with it.
        used = super().expected_failures(gold, target)
        return frozenset(gold.gold_tests) if used else used

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        percent = rng.choice([10, 25, 50])
        path = shlex.quote(target.path or "")
        return [run(f"truncate -s $(( $(stat -c %s {path}) * {percent} / 100 )) {path}")]

    def repair_commands(self, target: Target) -> list[str]:
        return reinstall(target.debian_package or "")


@register
class SonameLinkRedirected(FaultOperator):
    name = "soname-link-redirected"
    category = Category.SHARED_LIBRARY
    # The extension linking it fails to import (an undefined symbol): an ImportError a guard can catch.
    raises = "ImportError"
    description = "Point a library's soname symlink at a different library"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return [t for t in breakable_libraries(gold) if t.path and soname_link(t.path)]

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        link = soname_link(target.path or "")
        decoy = rng.choice(["libm.so.6", "libdl.so.2", "libutil.so.1"])
        return [run(f"ln -sf {decoy} {shlex.quote(link or '')}")]

    def repair_commands(self, target: Target) -> list[str]:
        # ldconfig recreates every soname link from the libraries' own SONAME entries.
        return [
            f"ln -sf {shlex.quote(target.path or '')} {shlex.quote(soname_link(target.path or '') or '')}",
            "ldconfig",
        ]


@register
class LibraryPathDecoy(FaultOperator):
    name = "library-path-decoy"
    category = Category.PROCESS_ENVIRONMENT
    raises = "ImportError"
    description = "Put a wrong library under a loaded library's soname first on LD_LIBRARY_PATH"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return [t for t in breakable_libraries(gold) if t.path and soname_link(t.path)]

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        directory = rng.choice(["/usr/local/lib/x86_64-linux-gnu", "/opt/runtime/lib", "/usr/local/lib64"])
        soname = (soname_link(target.path or "") or "").rsplit("/", 1)[-1]
        decoy = rng.choice(["libm.so.6", "libutil.so.1"])
        return [
            run(f"mkdir -p {directory} && cp /usr/lib/x86_64-linux-gnu/{decoy} {directory}/{soname}"),
            env("LD_LIBRARY_PATH", directory),
        ]

    def repair_commands(self, target: Target) -> list[str]:
        soname = (soname_link(target.path or "") or "").rsplit("/", 1)[-1]
        directories = "/usr/local/lib/x86_64-linux-gnu /opt/runtime/lib /usr/local/lib64"
        return [f"for d in {directories}; do rm -f $d/{soname}; done"]


@register
class LibraryWrongMachine(FaultOperator):
    name = "library-wrong-machine"
    category = Category.SHARED_LIBRARY
    raises = "ImportError"
    description = "Mark a shared library the tests load as built for another CPU architecture"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return breakable_libraries(gold)

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        # e_machine (offset 18, little-endian): AArch64, ARM, RISC-V, PowerPC64.
        machine = rng.choice(["\\267\\000", "\\050\\000", "\\363\\000", "\\025\\000"])
        path = shlex.quote(target.path or "")
        return [run(f"printf '{machine}' | dd of={path} bs=1 seek=18 conv=notrunc status=none")]

    def repair_commands(self, target: Target) -> list[str]:
        return reinstall(target.debian_package or "")


@register
class LibraryElfClassFlipped(FaultOperator):
    name = "library-elf-class-flipped"
    category = Category.SHARED_LIBRARY
    raises = "ImportError"
    description = "Mark a 64-bit shared library the tests load as a 32-bit object"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return breakable_libraries(gold)

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        path = shlex.quote(target.path or "")
        return [run(f"printf '\\001' | dd of={path} bs=1 seek=4 conv=notrunc status=none")]

    def repair_commands(self, target: Target) -> list[str]:
        return reinstall(target.debian_package or "")


@register
class LibraryRemoved(FaultOperator):
    name = "library-removed"
    category = Category.SHARED_LIBRARY
    raises = "ImportError"
    description = "Delete a shared library the tests load"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return breakable_libraries(gold)

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        return [run(f"rm -f {shlex.quote(target.path or '')}")]

    def repair_commands(self, target: Target) -> list[str]:
        return reinstall(target.debian_package or "")


@register
class SonameLinkRemoved(FaultOperator):
    name = "soname-link-removed"
    category = Category.SHARED_LIBRARY
    raises = "ImportError"
    description = "Delete the soname symlink the loader resolves a library the tests load by"

    def targets(self, gold: GoldRecord) -> list[Target]:
        return [t for t in breakable_libraries(gold) if t.path and soname_link(t.path)]

    def break_steps(self, target: Target, rng: random.Random) -> list[BreakStep]:
        # The loader cache would still map the soname to the file: drop the entry too.
        return [run(f"rm -f {shlex.quote(soname_link(target.path or '') or '')} && ldconfig -X")]

    def repair_commands(self, target: Target) -> list[str]:
        return ["ldconfig"]
