"""Top-level module names the verifier's pytest process could import: run in the gold container at record time.

    python3 -I -S import_names.py --search DIR... --scan DIR... --repo DIR > names.json

A module planted in a directory of the repository that comes first on ``sys.path`` runs in the tests' process
only when something imports its name: what the code on the search path (``--scan``, other projects' test
suites aside) and the repository (``--repo``, whole) asks for by name, guarded or not, failure paths included
(import statements, ``import_module("x")``, ``importorskip("x")``, ``pytest_plugins = ["x"]``), and the
names the repository's own import directories offer (``--search``: a planted ``pkg.py`` in front of
``src/pkg``). A failing assertion's report importing ``difflib`` makes a planted ``difflib.py`` count; an
agent's ``repro.py`` or ``test.py``, imported by nothing, does not. Over-inclusive on purpose: a statement
in a docstring counts. Standard library only.
"""

import importlib.machinery
import json
import os
import re
import sys

_NAME = rb"[A-Za-z_]\w*"
_ITEM = _NAME + rb"[\w.]*(?:[ \t]+as[ \t]+\w+)?"
# Statements only (a line's start, or after ``;`` or ``try:``): ``from x import fix`` asks for ``x``, not ``fix``.
_IMPORT = re.compile(rb"(?m)(?:^|[;:])[ \t]*import[ \t]+(" + _ITEM + rb"(?:[ \t]*,[ \t]*" + _ITEM + rb")*)")
_FROM = re.compile(rb"(?m)(?:^|[;:])[ \t]*from[ \t]+(" + _NAME + rb")[\w.]*[ \t]+import\b")
_BY_STRING = re.compile(
    rb"\b(?:import_module|__import__|find_spec|importorskip|import_string|load_module)\(\s*[rbu]?['\"](" + _NAME + rb")"
)
_PLUGINS = re.compile(rb"\bpytest_plugins\s*=\s*([^\n]*)")
_QUOTED = re.compile(rb"['\"](" + _NAME + rb")")
_SKIPPED_DIRS = {".git", ".hg", ".tox", ".nox", "node_modules", "__pycache__"}
# Outside the repository, code no test session runs: other projects' own test suites, the standard library's
# GUI and tooling packages (``from test import support`` must not make an agent's ``test.py`` count).
_NOT_RUN_DIRS = {"test", "tests", "testing", "idlelib", "turtledemo", "tkinter", "lib2to3", "ensurepip", "pydoc_data"}
# Source files larger than this hold data, not code worth scanning.
_MAX_BYTES = 4 << 20


def _module_name(entry):
    for suffix in importlib.machinery.all_suffixes():
        stem = entry[: -len(suffix)]
        if entry.endswith(suffix) and stem and "." not in stem:
            return stem
    return None


def found_names(directories):
    """Every top-level name a directory of the search path offers: modules, extensions, packages and
    namespace portions (any directory whose name could be imported)."""
    names = set()
    for directory in directories:
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        for entry in entries:
            if os.path.isdir(os.path.join(directory, entry)):
                if "." not in entry and entry.isidentifier():
                    names.add(entry)
            elif (name := _module_name(entry)) is not None and name.isidentifier():
                names.add(name)
    return names


def asked_names(source):
    """Top-level names ``source`` (bytes of a Python file) imports or asks for by name."""
    names = set()
    for match in _IMPORT.finditer(source):
        for part in match.group(1).split(b","):
            names.add(part.split()[0].split(b".")[0])
    names.update(match.group(1) for match in _FROM.finditer(source))
    names.update(match.group(1) for match in _BY_STRING.finditer(source))
    for match in _PLUGINS.finditer(source):
        names.update(quoted for quoted in _QUOTED.findall(match.group(1)))
    return {name.decode("ascii", "replace").split(".")[0] for name in names}


def scanned_names(directories, repositories=()):
    """Names asked for by the Python files under ``directories`` (their test suites aside) and under
    ``repositories`` (whole: the project's tests run)."""
    names = set()
    seen = set()
    for top in [*repositories, *directories]:
        skipped = _SKIPPED_DIRS if top in repositories else _SKIPPED_DIRS | _NOT_RUN_DIRS
        for directory, subdirectories, entries in os.walk(top):
            real = os.path.realpath(directory)
            if real in seen:
                subdirectories[:] = []
                continue
            seen.add(real)
            subdirectories[:] = [d for d in subdirectories if d not in skipped]
            for entry in entries:
                if not entry.endswith((".py", ".pth")):
                    continue
                try:
                    with open(os.path.join(directory, entry), "rb") as handle:
                        source = handle.read(_MAX_BYTES)
                except OSError:
                    continue
                found = asked_names(source)
                # The standard library's own regression tooling (multiprocessing's ``from test import support``)
                # runs in no test session of a project: its name stays the project's or an agent's to use.
                names |= found if top in repositories else found - _NOT_RUN_DIRS
    return names


def main(arguments):
    options = {"--search": [], "--scan": [], "--repo": []}
    current = None
    for argument in arguments:
        if argument in options:
            current = argument
        elif current is None:
            raise SystemExit(f"unexpected argument {argument!r}: put it after --search, --scan or --repo")
        else:
            options[current].append(argument)
    names = found_names(options["--search"]) | scanned_names(options["--scan"], options["--repo"])
    json.dump(sorted(n for n in names if n.isidentifier()), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
