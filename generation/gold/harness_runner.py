"""The harness check's rules for what a test runner other than pytest reads and runs (tape under Node, make,
ctest): the links it runs programs by (``node_modules/.bin/tape``, ``/usr/bin/awk`` through the alternatives),
and the paths it looked for and did not find, which must stay absent (a module in a nearer ``node_modules``,
``CTestCustom.cmake``, a library on a run path, a ``GNUmakefile`` make would read before ``Makefile``). The
programs each script's ``#!`` line starts are harness_interpreter.py's ``script_programs``.

Part of ``harness_integrity.py``, kept apart for size: the check ships as one file, with everything below this
docstring in place of the import that names this module (harness.py's ``harness_script``). So: standard
library only, no ``from __future__`` import.
"""

import os


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
