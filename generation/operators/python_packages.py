"""Python package damage: a distribution the tests import is missing, shadowed or without metadata."""

from __future__ import annotations

import random
import shlex
from pathlib import PurePosixPath

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, FaultOperator, ModuleTarget, register, run
from cligym.generation.operators.footprint_targets import library_functions, site_source_modules
from cligym.generation.operators.function_stubs import FUNCTION_TARGETS, SourcePatchStub
from cligym.generation.operators.probe_targets import imported_distributions
from cligym.generation.operators.python_stdlib import SYNTAX_DAMAGE, bytecode_of
from cligym.generation.operators.repairs import pip_reinstall

SITE_PACKAGES = "$(python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])')"
STDLIB = "$(python -c 'import sysconfig; print(sysconfig.get_paths()[\"stdlib\"])')"


def pth_hook(line: str, name: str) -> BreakStep:
    """A ``.pth`` file in site-packages whose one line runs in every interpreter at start-up (written as is:
    ``printf '%s'`` expands nothing in it, where ``echo`` would turn a backslash sequence into a byte)."""
    return run(f"printf '%s\\n' {shlex.quote(line)} > {SITE_PACKAGES}/{name}")


def remove_pth_files(names: list[str]) -> str:
    return "rm -f " + " ".join(f"{SITE_PACKAGES}/{name}" for name in names)


@register
class ModuleDeleted(FaultOperator[ModuleTarget]):
    name = "module-deleted"
    category = Category.PYTHON_PACKAGE
    raises = "ImportError"
    description = "Delete the file of a third-party module the tests import"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return [t for t in imported_distributions(gold) if t.version]

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        path = target.file()
        # A package loses its __init__ (and its bytecode), a single-file module disappears.
        removed = str(PurePosixPath(path).parent) if path.endswith("__init__.py") and rng.random() < 0.5 else path
        return [
            run(
                f"rm -rf {shlex.quote(removed)} && find / -xdev -name '__pycache__' -path '*{target.name}*' "
                "-prune -exec rm -rf {} + 2>/dev/null; true"
            )
        ]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return pip_reinstall(target)


@register
class ModuleShadowed(FaultOperator[ModuleTarget]):
    name = "module-shadowed"
    category = Category.PYTHON_PACKAGE
    raises = "AttributeError"
    description = "Shadow a third-party module with an empty one earlier on sys.path"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return imported_distributions(gold)

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        docstring = rng.choice(["Compatibility shim.", "Vendored stub, see upstream.", "Placeholder module."])
        return [run(f'printf \'"""{docstring}"""\\n\' > {STDLIB}/{target.name}.py')]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return [f"rm -f {STDLIB}/{target.name}.py {STDLIB}/__pycache__/{target.name}.*.pyc"]


@register
class DistMetadataRemoved(FaultOperator[ModuleTarget]):
    name = "dist-metadata-removed"
    category = Category.PYTHON_PACKAGE
    description = "Remove the installed metadata (.dist-info) of a distribution the tests import"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return [t for t in imported_distributions(gold) if t.version]

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        pattern = f"{target.installed_by().replace('-', '_')}-{target.release()}.dist-info"
        return [run(f"rm -rf {SITE_PACKAGES}/{shlex.quote(pattern)}")]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return pip_reinstall(target)


@register
class DependencyModuleSyntaxError(FaultOperator[ModuleTarget]):
    name = "dependency-module-syntax-error"
    category = Category.PYTHON_PACKAGE
    raises = "SyntaxError"
    description = "Leave a half-finished edit in a module of an installed distribution the tests use"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return site_source_modules(gold)

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        path = shlex.quote(target.file())
        line = shlex.quote(rng.choice(SYNTAX_DAMAGE))
        return [run(f"printf '%s\\n' {line} >> {path} && rm -f {bytecode_of(target.file())}")]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return pip_reinstall(target)


@register
class DependencyFunctionEdited(SourcePatchStub):
    name = "dependency-function-edited"
    category = Category.PYTHON_PACKAGE
    description = "Leave a local patch in an installed dependency that stubs out a function the project calls"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return library_functions(gold, FUNCTION_TARGETS, "site-packages")

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return pip_reinstall(target)
