"""The standard library as installed: a module's source, its bytecode, and what ``import`` finds first.

Debian's standard library is dpkg-managed, so ``apt-get install --reinstall`` of the package that owns a file
puts it back; bytecode caches and files dpkg does not own must be found and removed.
"""

from __future__ import annotations

import random
import shlex
from pathlib import PurePosixPath

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, Category, FaultOperator, ModuleTarget, register, run
from cligym.generation.operators.footprint_targets import (
    library_functions,
    site_source_modules,
    stdlib_source_modules,
)
from cligym.generation.operators.function_stubs import FUNCTION_TARGETS, SourcePatchStub

# A conflict marker or a half-finished edit: the file no longer parses.
SYNTAX_DAMAGE = ["<<<<<<< HEAD", "def _patched(:", "    return _orig(*args, **kwargs"]
EXTENSION_DONORS = ("_json", "_queue", "_contextvars", "_lsprof")
# The interpreter's own extension suffix (.cpython-311-x86_64-linux-gnu.so), read in the container.
EXTENSION_SUFFIX = "$(python -c 'import importlib.machinery as m; print(m.EXTENSION_SUFFIXES[0])')"


def reinstall_file_owner(path: str) -> list[str]:
    """Reinstall whichever Debian package owns ``path`` (dpkg still knows after the file is damaged)."""
    quoted = shlex.quote(path)
    return ["apt-get update", f"apt-get install -y --reinstall $(dpkg -S {quoted} | cut -d: -f1)"]


def bytecode_of(path: str) -> str:
    """The bytecode cache files of a source file (every interpreter tag and optimisation level)."""
    source = PurePosixPath(path)
    return f"{source.parent}/__pycache__/{source.stem}.*.pyc"


@register
class StdlibModuleSyntaxError(FaultOperator[ModuleTarget]):
    name = "stdlib-module-syntax-error"
    category = Category.PYTHON_STDLIB
    raises = "SyntaxError"
    description = "Leave a half-finished edit in a standard-library module the tests import"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return stdlib_source_modules(gold)

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        path = shlex.quote(target.file())
        line = shlex.quote(rng.choice(SYNTAX_DAMAGE))
        return [run(f"printf '%s\\n' {line} >> {path} && rm -f {bytecode_of(target.file())}")]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return reinstall_file_owner(target.file())


@register
class StdlibModuleEmptied(FaultOperator[ModuleTarget]):
    name = "stdlib-module-emptied"
    category = Category.PYTHON_STDLIB
    raises = "AttributeError"
    description = "Empty a standard-library module the tests use, so it imports but defines nothing"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return stdlib_source_modules(gold)

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f": > {shlex.quote(target.file())} && rm -f {bytecode_of(target.file())}")]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return reinstall_file_owner(target.file())


@register
class StdlibModuleDeleted(FaultOperator[ModuleTarget]):
    name = "stdlib-module-deleted"
    category = Category.PYTHON_STDLIB
    raises = "ImportError"
    description = "Delete a standard-library module the tests import"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return [t for t in stdlib_source_modules(gold) if not t.file().endswith("__init__.py")]

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        return [run(f"rm -f {shlex.quote(target.file())} {bytecode_of(target.file())}")]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return reinstall_file_owner(target.file())


@register
class StrayModuleInWorkdir(FaultOperator[ModuleTarget]):
    name = "stray-module-in-workdir"
    category = Category.PYTHON_STDLIB
    raises = "AttributeError"
    description = "Leave a file named like a standard-library module in the directory the tests run from"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        # `python -m pytest` puts the working directory first on sys.path: a stray csv.py there wins.
        if " -m pytest" not in gold.base_test_command:
            return []
        modules = [t for t in stdlib_source_modules(gold) if "." not in t.name]
        return [t.model_copy(update={"shadow_dir": gold.repo_path}) for t in modules]

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        body = rng.choice(["# scratch", "import sys", "DEBUG = True"])
        return [run(f"echo '{body}' > {shlex.quote(target.stray_file())}")]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        stray = target.stray_file()
        return [f"rm -rf {shlex.quote(stray)} {shlex.quote(str(PurePosixPath(stray).parent / '__pycache__'))}"]


@register
class ExtensionShadowsSource(FaultOperator[ModuleTarget]):
    name = "extension-shadows-source"
    category = Category.PYTHON_STDLIB
    raises = "ImportError"
    description = "Put a compiled extension of another module beside a module's source, where import prefers it"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return stdlib_source_modules(gold) + site_source_modules(gold)

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        donor = rng.choice(EXTENSION_DONORS)
        return [run(f"cp $(python -c 'import {donor}; print({donor}.__file__)') {self._shadow(target)}")]

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return [f"rm -f {self._shadow(target)}"]

    @staticmethod
    def _shadow(target: ModuleTarget) -> str:
        # Import looks for extensions before sources, in a package directory for __init__ too.
        source = PurePosixPath(target.file())
        return str(source.with_name(source.stem)) + EXTENSION_SUFFIX


@register
class StdlibFunctionEdited(SourcePatchStub):
    name = "stdlib-function-edited"
    category = Category.PYTHON_STDLIB
    description = "Leave a local patch in the standard library that stubs out a function the project calls"

    def targets(self, gold: GoldRecord) -> list[ModuleTarget]:
        return library_functions(gold, FUNCTION_TARGETS, "stdlib")

    def repair_commands(self, target: ModuleTarget) -> list[str]:
        return reinstall_file_owner(target.file())
