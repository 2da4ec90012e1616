"""The harness check's rules on what the import system would load in the tests' process: bytecode the
interpreter would run instead of a source it no longer matches (the harness's and the repository's), and
modules planted in the repository's import directories under a name something imports.

Part of ``harness_integrity.py``, kept apart for size: the check ships as one file, with everything below this
docstring in place of the import that names this module (harness.py's ``harness_script``). So: standard
library only, no ``from __future__`` import, and the imports below run where that import stands, after the
check's start-up guards (gold's path configuration, no extension module an agent could have replaced).
"""

import hashlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys

# Directories of a repository that hold no code the tests import.
_SKIPPED_DIRS = (".git", ".hg", ".tox", ".nox", "node_modules")
# Untracked files the verifier deletes from the repository before the tests run (restore_repository_script):
# whatever they hold never runs there, so an agent's scratch test module costs nothing.
_DELETED_BEFORE_RUN = ("conftest.py", "__init__.py")
# Directories a build writes into the repository (``pip install .``'s ``build/``): a namespace nobody imports.
_BUILD_OUTPUTS = ("build", "dist")


def _digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _bytecode_run(pyc, source):
    """The code the import system would run from ``pyc`` instead of compiling ``source`` (PEP 552 rules),
    or None when it would ignore it (another magic number, stale, or not a file)."""
    try:
        with open(pyc, "rb") as handle:
            data = handle.read()
        with open(source, "rb") as handle:
            source_bytes = handle.read()
        stat = os.stat(source)
    except OSError:
        return None
    if len(data) < 16 or data[:4] != importlib.util.MAGIC_NUMBER:
        return None
    flags = int.from_bytes(data[4:8], "little")
    if flags & 0b1:
        if flags & 0b10 and data[8:16] != importlib.util.source_hash(source_bytes):
            return None
    elif (
        int.from_bytes(data[8:12], "little") != int(stat.st_mtime) & 0xFFFFFFFF
        or int.from_bytes(data[12:16], "little") != stat.st_size & 0xFFFFFFFF
    ):
        return None
    return data[16:], source_bytes


def _unlike_source(pyc, source):
    """Whether the interpreter would run bytecode from ``pyc`` that is not ``source`` compiled."""
    run = _bytecode_run(pyc, source)
    if run is None:
        return False
    body, source_bytes = run
    try:
        return marshal.loads(body) != compile(source_bytes, source, "exec", dont_inherit=True)
    except (ValueError, EOFError, TypeError, SyntaxError):
        return True


def _cached(path):
    """Where the import system of the verifier's pytest run looks for ``path``'s bytecode: its
    ``__pycache__``, whatever cache prefix this process itself runs with."""
    prefix, sys.pycache_prefix = sys.pycache_prefix, None
    try:
        return importlib.util.cache_from_source(path)
    except (ValueError, NotImplementedError):
        return None
    finally:
        sys.pycache_prefix = prefix


def _source_of(pyc):
    prefix, sys.pycache_prefix = sys.pycache_prefix, None
    try:
        return importlib.util.source_from_cache(pyc)
    except ValueError:
        return None
    finally:
        sys.pycache_prefix = prefix


def _repository_bytecode(repo):
    """(pyc, source) of each cache file the interpreter may load in the repository. pytest's own rewritten
    test modules (``-pytest-`` in the name) are not the interpreter's to load: the verifier deletes them."""
    pairs = []
    if not repo or not os.path.isdir(repo):
        return pairs
    for directory, subdirectories, names in os.walk(repo):
        subdirectories[:] = [d for d in subdirectories if d not in _SKIPPED_DIRS]
        caches = [(directory, names)] if os.path.basename(directory) == "__pycache__" else []
        # A cache directory swapped for a link elsewhere is one the interpreter follows, and os.walk does not.
        linked = os.path.join(directory, "__pycache__")
        if "__pycache__" in subdirectories and os.path.islink(linked):
            caches.append((linked, os.listdir(linked)))
        for cache, cached in caches:
            for name in cached:
                if name.endswith(".pyc") and "-pytest-" not in name:
                    pyc = os.path.join(cache, name)
                    source = _source_of(pyc)
                    if source:
                        pairs.append((pyc, source))
    return pairs


def _bytecode(files, repo):
    """Every cache file that stands for a harness source or a repository module: path -> (source, sha256)."""
    pairs = [(_cached(path), path) for path in files if path.endswith(".py")]
    pairs += _repository_bytecode(repo)
    return {pyc: (source, _digest(pyc)) for pyc, source in pairs if pyc and os.path.isfile(pyc)}


def _module_name(name):
    """The module an entry of a directory on ``sys.path`` is imported as (``m.py``, ``m.pyc``, ``m.*.so``),
    or None for a file no import loads (``py.typed``, ``a.b.py``)."""
    for suffix in importlib.machinery.all_suffixes():
        stem = name[: -len(suffix)]
        if name.endswith(suffix) and stem and "." not in stem:
            return stem
    return None


def _holds_code(directory, limit=5000):
    """Whether a namespace directory holds anything an import could load, at any depth (bytecode caches aside:
    the interpreter reads those only for a source beside them)."""
    seen = 0
    for _, subdirectories, names in os.walk(directory, followlinks=True):
        subdirectories[:] = [d for d in subdirectories if d != "__pycache__" and "." not in d]
        seen += len(names)
        if any(_module_name(name) for name in names) or seen > limit:
            return True
    return False


def _is_importable(directory, name):
    """Whether ``name`` in ``directory`` (a directory of the repository on ``sys.path``) could be imported:
    a module, an extension, sourceless bytecode, a package, or a namespace portion that holds code."""
    path = os.path.join(directory, name)
    if os.path.isdir(path):
        if "." in name or name == "__pycache__":
            return False
        if any(os.path.lexists(os.path.join(path, "__init__" + s)) for s in importlib.machinery.all_suffixes()):
            return True
        return name not in _BUILD_OUTPUTS and _holds_code(path)
    if name in _DELETED_BEFORE_RUN or (name.startswith("test_") and name.endswith(".py")) or name.endswith("_test.py"):
        return False
    return _module_name(name) is not None and os.path.lexists(path)


def _importables(directories):
    """Everything importable in ``directories`` -> sha256 of the file ('' for a package or namespace)."""
    found = {}
    for directory in directories:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if _is_importable(directory, name):
                path = os.path.join(directory, name)
                try:
                    found[path] = "" if os.path.isdir(path) else _digest(path)
                except OSError:
                    found[path] = "unreadable"
    return found


def _importable_problems(manifest):
    """Importable files of the repository's import directories that gold did not have, under a name something
    could import (an untracked module a failure path or an optional import would load into the tests'
    process, or one shadowing a module found later on the search path), or whose content gold's
    untracked ones no longer have. The verifier deletes none of them: a stray module may be the break."""
    gold = manifest.get("importables")
    if gold is None:
        return []
    # Names anything could import (import_names.py); a name nothing imports (an agent's repro.py) never runs.
    # The verifier's own plugins are imported by name (``-p``) from /tests, after a console script's directory.
    asked = manifest.get("import_names")
    if asked is not None:
        asked = {*asked, *manifest.get("verifier_modules", [])}
    problems = []
    for path, digest in sorted(_importables(manifest.get("import_dirs", [])).items()):
        name = _module_name(os.path.basename(path)) or os.path.basename(path)
        if path not in gold:
            if asked is None or name in asked:
                problems.append(f"{path} (importable as {name}, and not in the gold repository)")
        elif gold[path] and digest != gold[path]:
            problems.append(f"{path} (modified)")
    return problems
