"""The names a module planted in the repository could be imported as (generation/gold/import_names.py, run
standalone as in the gold container), and the harness check's rule on them (harness_integrity.py)."""

from __future__ import annotations

import dis
import importlib.util
import json
import marshal
import subprocess
import sys
import types
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from cligym.generation.gold import harness_integrity
from cligym.generation.gold.import_names import asked_names

SCRIPT = Path(str(resources.files("cligym.generation.gold").joinpath("import_names.py")))


def test_names_asked_for_by_statements_calls_and_plugin_lists_are_found() -> None:
    source = b"""import os, sys as system, a.b.c as d
from x.y import fix
from . import relative
try: import ujson
except ImportError: pass
def f():
    importlib.import_module("yaml.loader")
    pytest.importorskip('hypothesis')
pytest_plugins = ["pytester", 'foo.bar']
"""
    assert asked_names(source) == {"os", "sys", "a", "x", "ujson", "yaml", "hypothesis", "pytester", "foo"}


def test_the_script_lists_what_the_code_asks_for_and_the_repository_offers(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("try:\n    import optional_speedups\nexcept ImportError:\n    pass\n")
    (site / "single.py").write_text("")
    (site / "_ext.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    (site / "pkg-1.0.dist-info").mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "test_a.py").write_text("def test():\n    from helpers_of_tests import x\n")
    (site / "pkg" / "tests").mkdir()
    (site / "pkg" / "tests" / "test_pkg.py").write_text("import from_another_suite\n")
    (site / "util.py").write_text("def _cleanup_tests():\n    from test import support\n")
    (repo / "src" / "project").mkdir(parents=True)
    command = [sys.executable, "-I", "-S", str(SCRIPT), "--search", str(repo / "src"), "--scan", str(site)]
    names = json.loads(subprocess.run([*command, "--repo", str(repo)], capture_output=True, text=True).stdout)
    # What the code asks for, failure paths included, and what the repository's import directory offers; not
    # what another project's own test suite imports, nor what is merely on the path (single, _ext).
    assert names == sorted(["optional_speedups", "helpers_of_tests", "project"])


def test_the_check_names_a_planted_module_something_imports_and_not_a_scratch_script(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "setup.py").write_text("")
    manifest = {
        "import_dirs": [str(repo)],
        "importables": harness_integrity._importables([str(repo)]),
        "import_names": ["difflib", "setup"],
    }
    (repo / "repro.py").write_text("print('checking the repair')\n")
    (repo / "difflib.py").write_text("raise SystemExit\n")
    problems = harness_integrity._importable_problems(manifest)
    assert problems == [f"{repo / 'difflib.py'} (importable as difflib, and not in the gold repository)"]
    # Before the names were recorded, any new module counted.
    assert len(harness_integrity._importable_problems({**manifest, "import_names": None})) == 2


def test_bytecode_behind_a_linked_cache_directory_is_read_like_any_other(tmp_path: Path) -> None:
    # The interpreter follows a __pycache__ link; a walk that did not would miss the break's bytecode there,
    # and the verifier's own removal of directory links would then repair it in the agent's stead.
    package = tmp_path / "repo" / "pkg"
    package.mkdir(parents=True)
    (package / "mod.py").write_text("VALUE = 1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cached = f"mod.{sys.implementation.cache_tag}.pyc"
    (elsewhere / cached).write_bytes(b"poisoned")
    (package / "__pycache__").symlink_to(elsewhere, target_is_directory=True)
    pairs = harness_integrity._repository_bytecode(str(tmp_path / "repo"))
    assert pairs == [(str(package / "__pycache__" / cached), str(package / "mod.py"))]


def _bytecode_problems(manifest: dict[str, Any]) -> list[str]:
    # The rest of the check judges this interpreter's own installation, which no manifest here describes.
    return [problem for problem in harness_integrity.check(manifest) if "bytecode" in problem]


def _cache_of(source: Path, code: types.CodeType) -> Path:
    """``code`` written as the interpreter's timestamped cache of ``source``."""
    stat = source.stat()
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
    header += (int(stat.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (stat.st_size & 0xFFFFFFFF).to_bytes(
        4, "little"
    )
    cached = Path(importlib.util.cache_from_source(str(source)))
    cached.parent.mkdir(exist_ok=True)
    cached.write_bytes(header + marshal.dumps(code))
    return cached


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="crafts CPython 3.11 specialised instructions")
def test_bytecode_that_only_compares_equal_to_its_source_is_removed(tmp_path: Path) -> None:
    # Red team 10: comparing code objects ignores specialised instructions and their inline caches, so a
    # function that should load A can load another global and still compare equal to the source compiled.
    repo = tmp_path / "repo"
    repo.mkdir()
    source = repo / "m.py"
    source.write_text("A = 'gold'\nB = 'poison'\ndef f():\n    return A\n")
    code = compile(source.read_bytes(), str(source), "exec", dont_inherit=True)
    function = next(c for c in code.co_consts if hasattr(c, "co_code"))
    instructions = bytearray(function.co_code)
    at = next(i for i in range(0, len(instructions), 2) if instructions[i] == dis.opmap["LOAD_GLOBAL"])
    instructions[at] = dis._all_opmap["LOAD_GLOBAL_MODULE"]  # type: ignore[attr-defined]
    crafted = code.replace(
        co_consts=tuple(function.replace(co_code=bytes(instructions)) if c is function else c for c in code.co_consts)
    )
    assert crafted == code  # what the check's comparison sees
    cached = _cache_of(source, crafted)
    manifest = {"repo": str(repo), "files": {}, "bytecode": {}}
    assert _bytecode_problems(manifest) == []
    assert not cached.exists(), "bytecode that is not gold's is removed, not trusted"
    # Bytecode unlike its source is a difference, named, and left for the verdict.
    unlike = _cache_of(source, compile("A = 'other'\n", str(source), "exec"))
    assert _bytecode_problems(manifest) == [f"{unlike} (bytecode unlike {source})"]
