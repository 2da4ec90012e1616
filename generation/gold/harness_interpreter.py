"""The harness check's rules on which interpreter the tests start: every path they start it by (``python`` and
``python3`` on ``PATH``, the first line of each console script they run) must lead to gold's binary, no
``._pth`` file may sit beside one (it replaces ``sys.path`` before any code runs), and a console script a
reinstall rewrote is gold's when only its first line changed and that line still leads to gold's binary.

Part of ``harness_integrity.py``, kept apart for size: the check ships as one file, with everything below this
docstring in place of the import that names this module (harness.py's ``harness_script``). So: standard
library only, no ``from __future__`` import.
"""

import hashlib
import os
import shutil

_PYTHON_NAMES = ("python", "python3")
# pytest's own console scripts: a test command may start by either.
PYTEST_SCRIPT_NAMES = ("pytest", "py.test")


def _shebang_words(path):
    """The words of a script's ``#!`` line when it names a program by absolute path, else None."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode(errors="replace").split()
    return words if words and words[0].startswith("/") else None


def _shebang_program(path):
    """The absolute program a script's ``#!`` line starts (``/usr/bin/env NAME`` resolved on PATH), or None."""
    words = _shebang_words(path)
    if words is None:
        return None
    if os.path.basename(words[0]) == "env" and len(words) > 1:
        return shutil.which(words[1])
    return words[0]


def script_programs(paths):
    """Every program the scripts among ``paths`` start by their ``#!`` line, as files: the interpreter named
    (``/usr/bin/env`` itself included) and, behind ``env``, the program it finds on PATH (tape's
    ``#!/usr/bin/env node``: a wrapper at either runs before any line of the script)."""
    found = set()
    for words in filter(None, map(_shebang_words, paths)):
        found.add(os.path.realpath(words[0]))
        named = [word for word in words[1:] if not word.startswith("-")]
        if os.path.basename(words[0]) == "env" and named:
            program = shutil.which(named[0])
            if program:
                found.add(os.path.realpath(program))
    return sorted(path for path in found if os.path.isfile(path))


def _starting_paths(commands):
    """Every path the tests start an interpreter by: the Python names on PATH, and the program on the first
    line of each command they run (a console script's interpreter)."""
    paths = [shutil.which(name) for name in _PYTHON_NAMES]
    scripts = [*commands.values(), *(shutil.which(name) for name in PYTEST_SCRIPT_NAMES)]
    paths += [_shebang_program(path) for path in scripts if path]
    return [path for path in dict.fromkeys(paths) if path]


def record_interpreter_paths(commands):
    """Path an interpreter is started by -> the file it leads to, as gold has them."""
    return {path: os.path.realpath(path) for path in _starting_paths(commands)}


def _pth_files(directories):
    found = []
    for directory in directories:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        found += [os.path.join(directory, name) for name in names if name.endswith("._pth")]
    return found


def _pth_dirs(paths, interpreter):
    return sorted({os.path.dirname(path) for path in [*paths, interpreter]})


def record_pth_files(paths, interpreter):
    return _pth_files(_pth_dirs(paths, interpreter))


def _body_digest(data):
    """sha256 of a script's lines after its ``#!`` line: the part a reinstall writes as gold had it."""
    return hashlib.sha256(data.partition(b"\n")[2]).hexdigest()


def script_bodies(files):
    """For each harness file that starts with ``#!``: sha256 of the rest, the part a reinstall keeps."""
    bodies = {}
    for path in files:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        if data.startswith(b"#!"):
            bodies[path] = _body_digest(data)
    return bodies


def is_rewritten_script(path, gold_body, interpreters):
    """Whether ``path`` is gold's script with only its first line changed, to one that still starts one of
    gold's interpreters (pip writes the interpreter it ran under: ``bin/python3`` where gold had ``bin/python``)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    if not data.startswith(b"#!") or _body_digest(data) != gold_body:
        return False
    program = _shebang_program(path)
    return program is not None and os.path.realpath(program) in interpreters


def interpreter_problems(manifest):
    """Paths the tests start an interpreter by that now lead elsewhere, and ``._pth`` files gold lacked."""
    gold_paths = manifest.get("interpreter_paths")
    if gold_paths is None:
        return []
    problems = []
    commands = manifest.get("commands", {})
    now = _starting_paths({name: shutil.which(name) or "" for name in commands})
    for path in sorted({*gold_paths, *now}):
        target = os.path.realpath(path)
        expected = gold_paths.get(path)
        if expected is None and target not in gold_paths.values():
            problems.append(f"{path} (starts {target}, which is not one of gold's interpreters)")
        elif expected is not None and target != expected:
            problems.append(f"{path} (now leads to {target}, not {expected})")
    interpreter = manifest.get("interpreter") or ""
    gold_pth = set(manifest.get("pth_files", []))
    directories = _pth_dirs([*gold_paths, *now], interpreter)
    problems += [f"{path} (added)" for path in _pth_files(directories) if path not in gold_pth]
    return problems
