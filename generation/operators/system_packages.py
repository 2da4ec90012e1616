"""System packages: programs and libraries dpkg installed, moved aside, replaced or marked as removed."""

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
    PackagedPath,
    register,
    run,
)
from cligym.generation.operators.probe_targets import breakable_libraries, packaged_executables
from cligym.generation.operators.repairs import APT_INSTALL, reinstall


@register
class ExecutableDiverted(FaultOperator[ExecutableTarget]):
    name = "executable-diverted"
    category = Category.SYSTEM_PACKAGE
    description = "Divert a program the tests run away from its path with dpkg-divert"

    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        return packaged_executables(gold)

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        suffix = rng.choice(["distrib", "orig", "real"])
        path = shlex.quote(target.path)
        return [run(f"dpkg-divert --local --rename --divert {path}.{suffix} --add {path}")]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        return [f"dpkg-divert --local --rename --remove {shlex.quote(target.path)}"]


@register
class ExecutableReplacedByStub(FaultOperator[ExecutableTarget]):
    name = "executable-replaced-by-stub"
    category = Category.SYSTEM_PACKAGE
    description = "Replace a program the tests run with a stub script that fails"

    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        return packaged_executables(gold)

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        message = rng.choice(["not supported on this platform", "disabled by policy", "command unavailable"])
        path = shlex.quote(target.path)
        return [
            run(
                f'rm -f {path} && printf \'#!/bin/sh\\necho "%s: {message}" >&2\\nexit 1\\n\' "$(basename {path})" '
                f"> {path} && chmod 755 {path}"
            )
        ]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        return reinstall(target.owner())


@register
class PackageForceRemoved(FaultOperator[PackagedPath]):
    name = "package-force-removed"
    category = Category.SYSTEM_PACKAGE
    description = "Remove the Debian package of a library the tests load, ignoring what depends on it"

    def targets(self, gold: GoldRecord) -> list[PackagedPath]:
        seen: dict[str, PackagedPath] = {}
        for target in [*breakable_libraries(gold), *packaged_executables(gold)]:
            if target.debian_package and target.debian_package not in seen:
                seen[target.debian_package] = target
        return list(seen.values())

    def expected_failures(self, gold: GoldRecord, target: PackagedPath) -> frozenset[str] | None:
        """Every file of the package goes: the tests using any of its libraries, programs, files or
        modules (every test when pytest itself imports one of those modules)."""
        footprint = gold.footprint
        if footprint is None:
            return None
        package = target.debian_package
        modules = [m.name for m in gold.probe.modules if m.package and m.package == package]
        # Its modules and the extensions linking its libraries fail to import: an import guarded against
        # ImportError (an optional dependency) does not spread the failure.
        if any(footprint.is_harness_module(name, "ImportError") for name in modules):
            return frozenset(gold.gold_tests)
        probe = gold.probe
        libraries = [f.path for f in probe.shared_libraries if f.package == package]
        return (
            footprint.tests_using_any("modules", modules, "ImportError")
            | footprint.tests_using_any("libraries", libraries, "ImportError")
            | footprint.tests_using_any("executables", [f.path for f in probe.executables if f.package == package])
            | footprint.tests_using_any("files", [f.path for f in probe.files if f.package == package])
        )

    def break_steps(self, target: PackagedPath, rng: random.Random) -> list[BreakStep]:
        package = shlex.quote(target.owner())
        return [run(f"dpkg --remove --force-depends --force-remove-essential {package}")]

    def repair_commands(self, target: PackagedPath) -> list[str]:
        return ["apt-get update", f"{APT_INSTALL} {shlex.quote(target.owner())}"]


SHADOW_BIN = "/usr/local/bin"


@register
class ExecutableShadowedOnPath(FaultOperator[ExecutableTarget]):
    name = "executable-shadowed-on-path"
    category = Category.PROCESS_ENVIRONMENT
    description = "A stray script of the same name earlier on PATH than a program the tests run"

    def targets(self, gold: GoldRecord) -> list[ExecutableTarget]:
        return [t for t in packaged_executables(gold) if not t.path.startswith(SHADOW_BIN + "/")]

    def break_steps(self, target: ExecutableTarget, rng: random.Random) -> list[BreakStep]:
        shadow = self._shadow(target)
        message = rng.choice(["usage: see --help", "this wrapper is deprecated", "license check failed"])
        return [
            run(
                f"test ! -e {shadow} && printf '#!/bin/sh\\necho \"%s\" >&2\\nexit 2\\n' {shlex.quote(message)} "
                f"> {shadow} && chmod 755 {shadow}"
            )
        ]

    def repair_commands(self, target: ExecutableTarget) -> list[str]:
        return [f"rm -f {self._shadow(target)}"]

    @staticmethod
    def _shadow(target: ExecutableTarget) -> str:
        return shlex.quote(f"{SHADOW_BIN}/{PurePosixPath(target.path).name}")
