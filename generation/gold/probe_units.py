"""The per-test probe for suites another runner than pytest runs, from the probe run's strace log: each test
*unit* (a test script automake's harness starts, a test file ``node --test`` or ``prove`` runs in a process of
its own) is the process whose command line names it, with every process it starts; what those processes ran,
loaded and opened is that unit's context, and the tests it reported use it. What the runner itself did
(``make``, the test runner's parent process) is the session's, used by every test.

A runner that runs every test in one process (tape) has no units: everything is the session's, and each break
is expected to fail every test, as it would.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from cligym.generation.gold.footprint import PerTestProbe, TestContext

# Calls traced besides execve and open/openat: how a process's children are known, and its working
# directory (relative paths a test opens are resolved against it).
PROCESS_CALLS = ("clone", "clone3", "fork", "vfork", "chdir")
_FORKS = ("clone", "clone3", "fork", "vfork")
_LINE = re.compile(r"^(?P<pid>\d+)\s+(?:\d+\.\d+\s+)?(?P<rest>.*)$")
_CALL = re.compile(r"^(?P<call>\w+)\((?P<args>.*)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<call>\w+) resumed>(?P<args>.*)$")
_RESULT = re.compile(r"\)\s+=\s+(?P<ret>-?\d+)(?:\s.*)?$")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_IGNORED = ("/proc/", "/sys/", "/dev/", "/tmp/", "/run/")
_LIBRARY = re.compile(r"\.so(\.\d+)*$")
_WRITES = re.compile(r"\bO_(?:WRONLY|RDWR|CREAT|TRUNC|APPEND)\b")


def unit_keys(tests: Iterable[str]) -> dict[str, str]:
    """Test id -> its unit: the part before the first ``::`` (a file) or, with none, the id itself (a script)."""
    return {test: test.split("::", 1)[0] for test in tests}


def _normal(argument: str, repo_path: str) -> str:
    path = posixpath.normpath(argument) if "/" in argument else argument
    return path.removeprefix(repo_path.rstrip("/") + "/").removeprefix("./")


def _names_unit(argv: list[str], units: set[str], repo_path: str) -> str | None:
    for argument in argv:
        normal = _normal(argument, repo_path)
        # A runner that names tests without their file's suffix (CTest's test1 runs tests/test1.test).
        stem = posixpath.splitext(posixpath.basename(normal))[0] if "/" in normal else None
        for unit in units:
            key = _normal(unit, repo_path)
            if normal == key or normal.endswith("/" + key) or (stem == key and "/" not in key):
                return unit
    return None


def per_unit_probe(strace_log: str, tests: Iterable[str], repo_path: str) -> PerTestProbe:
    """Contexts keyed by unit (and ``""``, the session) from an ``strace -f`` log of the suite's run that
    traced execve, open/openat and the calls that make processes."""
    keys = unit_keys(tests)
    units = set(keys.values())
    parent: dict[str, str] = {}
    cwd: dict[str, str] = {}
    unit_of: dict[str, str] = {}
    pending: dict[str, tuple[str, str]] = {}
    contexts: dict[str, TestContext] = {"": TestContext()}
    first_exec = True
    for line in strace_log.splitlines():
        found = _LINE.match(line)
        if not found:
            continue
        pid, rest = found["pid"], found["rest"]
        resumed = _RESUMED.match(rest)
        if resumed:
            if pid not in pending:
                continue
            call, head = pending.pop(pid)
            args = head + resumed["args"]
        else:
            started = _CALL.match(rest)
            if not started:
                continue
            call, args = started["call"], started["args"]
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (call, args.removesuffix("<unfinished ...>"))
                continue
        result = _RESULT.search(args)
        if result is None or int(result["ret"]) < 0:
            continue
        if call in _FORKS:
            parent[result["ret"]] = pid
            cwd[result["ret"]] = cwd.get(pid, repo_path)
            continue
        strings = _STRING.findall(args)
        if not strings:
            continue
        raw = strings[0]
        # A relative path is resolved against the process's directory (openat from another directory's
        # descriptor cannot be, and is left out).
        if not raw.startswith("/") and call == "openat" and not args.startswith("AT_FDCWD"):
            continue
        path = posixpath.normpath(posixpath.join(cwd.get(pid, repo_path), raw))
        if call == "chdir":
            cwd[pid] = path
            continue
        context = contexts.setdefault(_unit(pid, parent, unit_of), TestContext())
        if call == "execve":
            if first_exec:  # the shell the probe itself starts the suite with
                first_exec = False
                continue
            unit = _names_unit(strings[1:], units, repo_path)
            if unit is not None and _unit(pid, parent, unit_of) == "":
                unit_of[pid] = unit
                context = contexts.setdefault(unit, TestContext())
            context.executables.append(path)
        elif call in ("open", "openat") and not path.startswith(_IGNORED):
            if _WRITES.search(args):
                continue  # what the run writes (logs, results) is its output, not what it uses
            if _LIBRARY.search(posixpath.basename(path)):
                context.libraries.append(path)
            else:
                context.files.append(path)
    for context in contexts.values():
        for field in ("executables", "libraries", "files"):
            setattr(context, field, sorted(set(getattr(context, field))))
    seen = sorted(keys)
    return PerTestProbe(contexts={k: v for k, v in contexts.items() if k == "" or k in units}, tests_seen=seen)


def _unit(pid: str, parent: dict[str, str], unit_of: dict[str, str]) -> str:
    """The unit ``pid`` runs in: its own or its nearest ancestor's; ``""`` (the session) when none."""
    seen = set()
    while pid not in unit_of and pid in parent and pid not in seen:
        seen.add(pid)
        pid = parent[pid]
    return unit_of.get(pid, "")
