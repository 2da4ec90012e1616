"""Shared-library corruption: the loader can no longer map a library the tests load."""

from __future__ import annotations

import random
import shlex

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, FaultOperator, SharedLibraryTarget, env, register, run
from cligym.generation.operators.probe_targets import breakable_libraries, required_soname_link, soname_link
from cligym.generation.operators.repairs import reinstall


@register
class ElfHeaderZeroed(FaultOperator[SharedLibraryTarget]):
    name = "elf-header-zeroed"
    category = Category.SHARED_LIBRARY
    raises = "ImportError"
    description = "Overwrite the ELF magic bytes of a shared library the tests load"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return breakable_libraries(gold)

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        length = rng.choice([4, 8, 16])
        path = shlex.quote(target.path)
        return [run(f"dd if=/dev/zero of={path} bs=1 count={length} conv=notrunc status=none")]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        return reinstall(target.owner())


@register
class LibraryTruncated(FaultOperator[SharedLibraryTarget]):
    name = "library-truncated"
    category = Category.SHARED_LIBRARY
    description = "Truncate a shared library the tests load to a fraction of its size"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return breakable_libraries(gold)

    def expected_failures(self, gold: GoldRecord, target: SharedLibraryTarget) -> frozenset[str] | None:
        # The loader maps the missing tail and the process dies of SIGBUS when it touches it: a test run
        # that loads the library in-process crashes, and every test it had not reported yet fails with it.
        used = super().expected_failures(gold, target)
        return frozenset(gold.gold_tests) if used else used

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        percent = rng.choice([10, 25, 50])
        path = shlex.quote(target.path)
        return [run(f"truncate -s $(( $(stat -c %s {path}) * {percent} / 100 )) {path}")]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        return reinstall(target.owner())


@register
class SonameLinkRedirected(FaultOperator[SharedLibraryTarget]):
    name = "soname-link-redirected"
    category = Category.SHARED_LIBRARY
    # The extension linking it fails to import (an undefined symbol): an ImportError a guard can catch.
    raises = "ImportError"
    description = "Point a library's soname symlink at a different library"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return [t for t in breakable_libraries(gold) if soname_link(t.path)]

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        link = required_soname_link(target)
        decoy = rng.choice(["libm.so.6", "libdl.so.2", "libutil.so.1"])
        return [run(f"ln -sf {decoy} {shlex.quote(link)}")]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        # ldconfig recreates every soname link from the libraries' own SONAME entries.
        return [
            f"ln -sf {shlex.quote(target.path)} {shlex.quote(required_soname_link(target))}",
            "ldconfig",
        ]


@register
class LibraryPathDecoy(FaultOperator[SharedLibraryTarget]):
    name = "library-path-decoy"
    category = Category.PROCESS_ENVIRONMENT
    raises = "ImportError"
    description = "Put a wrong library under a loaded library's soname first on LD_LIBRARY_PATH"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return [t for t in breakable_libraries(gold) if soname_link(t.path)]

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        directory = rng.choice(["/usr/local/lib/x86_64-linux-gnu", "/opt/runtime/lib", "/usr/local/lib64"])
        soname = required_soname_link(target).rsplit("/", 1)[-1]
        decoy = rng.choice(["libm.so.6", "libutil.so.1"])
        return [
            run(f"mkdir -p {directory} && cp /usr/lib/x86_64-linux-gnu/{decoy} {directory}/{soname}"),
            env("LD_LIBRARY_PATH", directory),
        ]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        soname = required_soname_link(target).rsplit("/", 1)[-1]
        directories = "/usr/local/lib/x86_64-linux-gnu /opt/runtime/lib /usr/local/lib64"
        return [f"for d in {directories}; do rm -f $d/{soname}; done"]


@register
class LibraryWrongMachine(FaultOperator[SharedLibraryTarget]):
    name = "library-wrong-machine"
    category = Category.SHARED_LIBRARY
    raises = "ImportError"
    description = "Mark a shared library the tests load as built for another CPU architecture"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return breakable_libraries(gold)

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        # e_machine (offset 18, little-endian): AArch64, ARM, RISC-V, PowerPC64.
        machine = rng.choice(["\\267\\000", "\\050\\000", "\\363\\000", "\\025\\000"])
        path = shlex.quote(target.path)
        return [run(f"printf '{machine}' | dd of={path} bs=1 seek=18 conv=notrunc status=none")]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        return reinstall(target.owner())


@register
class LibraryElfClassFlipped(FaultOperator[SharedLibraryTarget]):
    name = "library-elf-class-flipped"
    category = Category.SHARED_LIBRARY
    raises = "ImportError"
    description = "Mark a 64-bit shared library the tests load as a 32-bit object"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return breakable_libraries(gold)

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        path = shlex.quote(target.path)
        return [run(f"printf '\\001' | dd of={path} bs=1 seek=4 conv=notrunc status=none")]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        return reinstall(target.owner())


@register
class LibraryRemoved(FaultOperator[SharedLibraryTarget]):
    name = "library-removed"
    category = Category.SHARED_LIBRARY
    raises = "ImportError"
    description = "Delete a shared library the tests load"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return breakable_libraries(gold)

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f"rm -f {shlex.quote(target.path)}")]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        return reinstall(target.owner())


@register
class SonameLinkRemoved(FaultOperator[SharedLibraryTarget]):
    name = "soname-link-removed"
    category = Category.SHARED_LIBRARY
    raises = "ImportError"
    description = "Delete the soname symlink the loader resolves a library the tests load by"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return [t for t in breakable_libraries(gold) if soname_link(t.path)]

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        # The loader cache would still map the soname to the file: drop the entry too.
        return [run(f"rm -f {shlex.quote(required_soname_link(target))} && ldconfig -X")]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        return ["ldconfig"]
