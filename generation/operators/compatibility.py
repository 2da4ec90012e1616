"""Compatibility: components that are each intact but no longer fit together (ABI, versions)."""

from __future__ import annotations

import random
import shlex
from pathlib import PurePosixPath

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import (
    BreakStep,
    Category,
    DistributionTarget,
    FaultOperator,
    ModuleTarget,
    SharedLibraryTarget,
    register,
    run,
)
from cligym.generation.operators.footprint_targets import transitive_distributions
from cligym.generation.operators.probe_targets import extension_modules, imported_distributions
from cligym.generation.operators.repairs import pip_reinstall, reinstall_owner


@register
class ExtensionInitMismatch(FaultOperator[SharedLibraryTarget]):
    name = "extension-init-mismatch"
    category = Category.COMPATIBILITY
    raises = "ImportError"
    description = "Replace a compiled extension module with another extension built for a different module"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return extension_modules(gold)

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        path = shlex.quote(target.path)
        own = PurePosixPath(target.path).name.split(".")[0]
        donor = rng.choice([name for name in ("_json", "_queue", "_contextvars", "_lsprof") if name != own])
        # A valid ELF object for this interpreter, but it exports PyInit_<donor>, not the module's own.
        return [run(f"cp --remove-destination $(python3 -c 'import {donor}; print({donor}.__file__)') {path}")]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        return reinstall_owner(target)


@register
class ExtensionAbiTagChanged(FaultOperator[SharedLibraryTarget]):
    name = "extension-abi-tag-changed"
    category = Category.COMPATIBILITY
    raises = "ImportError"
    description = "Rename a compiled extension module to another Python version's ABI tag so it is not found"

    def targets(self, gold: GoldRecord) -> list[SharedLibraryTarget]:
        return extension_modules(gold)

    def break_steps(self, target: SharedLibraryTarget, rng: random.Random) -> list[BreakStep]:
        path = target.path
        name = PurePosixPath(path).name
        other = rng.choice(["cpython-39", "cpython-310", "cpython-312", "cpython-313"])
        renamed = name.replace(name.split(".")[1], f"{other}-x86_64-linux-gnu", 1)
        return [run(f"mv {shlex.quote(path)} {shlex.quote(str(PurePosixPath(path).with_name(renamed)))}")]

    def repair_commands(self, target: SharedLibraryTarget) -> list[str]:
        return reinstall_owner(target)


@register
class DependencyDowngraded(FaultOperator[ModuleTarget]):
    name = "dependency-downgraded"
    category = Category.COMPATIBILITY
    description = "Install an older release of a dependency the tests import, below what the project expects"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return [t for t in imported_distributions(gold) if t.version and t.version.split(".")[0].isdigit()]

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        parts = target.release().split(".")
        major = int(parts[0])
        minor = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        bounds = [f"<{major}"] if major > 0 else []
        if minor > 0:
            bounds.append(f"<{major}.{minor}")
        bound = rng.choice(bounds) if bounds else f"<{target.release()}"
        spec = shlex.quote(f"{target.installed_by()}{bound}")
        return [run(f"python -m pip install --no-deps {spec}")]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return pip_reinstall(target)


@register
class TransitiveDependencyRemoved(FaultOperator[DistributionTarget]):
    name = "transitive-dependency-removed"
    category = Category.COMPATIBILITY
    raises = "ImportError"
    description = "Uninstall a distribution that the tests reach only through another installed distribution"

    def targets(self, gold: GoldRecord) -> list[DistributionTarget]:
        return transitive_distributions(gold)

    def break_steps(self, target: DistributionTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f"python -m pip uninstall -y {shlex.quote(target.installed_by())}")]

    def repair_commands(self, target: DistributionTarget) -> list[str]:
        return pip_reinstall(target)
