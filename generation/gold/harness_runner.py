"""The harness check's rules for what a test runner other than pytest reads and runs (tape under Node, make,
ctest): the interpreter each script it runs names on its ``#!`` line (``/usr/bin/env``, then what ``env``
starts), the links it runs programs by (``node_modules/.bin/tape``, ``/usr/bin/awk`` through the alternatives),
and the paths it looked for and did not find, which must stay absent (a module in a nearer ``node_modules``,
``CTestCustom.cmake``, a library on a run path, a ``GNUmakefile`` make would read before ``Makefile``).

Part of ``harness_integrity.py``, kept apart for size: the check ships as one file, with everything below this
docstring in place of the import that names this module (harness.py's ``harness_script``). So: standard
library only, no ``from __future__`` import.
"""

import os
import shutil


def _first_line(path):
    try:
        with open(path, "rb") as handle:
            return handle.readline(512)
    except OSError:
        return b""


def script_programs(paths):
    """Every program the scripts among ``paths`` start by their ``#!`` line, as files: the interpreter named
    (``/usr/bin/env`` itself included) and, behind ``env``, the program it finds on PATH."""
    found = set()
    for path in paths:
        first = _first_line(path)
        if not first.startswith(b"#!"):
            continue
        words = first[2:].decode(errors="replace").split()
        if not words or not words[0].startswith("/"):
            continue
        found.add(os.path.realpath(words[0]))
        named = [word for word in words[1:] if not word.startswith("-")]
        if os.path.basename(words[0]) == "env" and named:
            program = shutil.which(named[0])
            if program:
                found.add(os.path.realpath(program))
    return sorted(path for path in found if os.path.isfile(path))


def program_links(paths):
    """Each path among ``paths`` that is a link (or lies behind a linked directory), with the file it leads to:
    the file is hashed, and the link must still lead there (a wrapper put in its place runs instead)."""
    return {path: os.path.realpath(path) for path in sorted(paths) if os.path.realpath(path) != path}


def still_absent(paths):
    """The paths among ``paths`` that gold lacks (a name only some gold test looked for is kept too)."""
    return sorted(path for path in set(paths) if not os.path.lexists(path))


def runner_problems(manifest):
    """Paths the gold suite looked for and did not find that are there now."""
    return [
        f"{path} (added: gold's test run looked for it and found nothing)"
        for path in manifest.get("runner_absent", [])
        if os.path.lexists(path)
    ]
