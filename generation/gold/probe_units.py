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
# directory (relative paths a test opens are resolved against it); what it looked for without opening it; what
# it created (its own output, which later runs find present).
_LOOKUP_CALLS = ("stat", "lstat", "newfstatat", "statx", "access", "faccessat", "faccessat2")
_CREATE_CALLS = ("mkdir", "mkdirat", "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat")
PROCESS_CALLS = ("clone", "clone3", "fork", "vfork", "chdir", *_LOOKUP_CALLS, *_CREATE_CALLS)
_FORKS = ("clone", "clone3", "fork", "vfork")
# The created path is the call's last path argument (rename's target, symlink's link name).
_CREATED_LAST = ("rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat")
# Calls whose path may be relative to a directory descriptor instead of the working directory.
_DIRECTORY_RELATIVE = (
    *("openat", "newfstatat", "statx", "faccessat", "faccessat2"),
    *("mkdirat", "renameat", "renameat2", "linkat", "symlinkat"),
)
# A home directory is the agent's to fill (shell history, caches of the tools it runs): not judged.
# The verifier's own directories are made by it, after the agent is done.
_MISSING_IGNORED = (*("/proc/", "/sys/", "/dev/", "/tmp/", "/run/"), "/root/", "/home/", "/var/", "/logs/", "/tests/")
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
    missing: set[str] = set()
    created: set[str] = set()
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
        if result is None:
            continue
        if int(result["ret"]) < 0:
            if "ENOENT" in args[result.start() :] and (path := _path_argument(call, args, pid, cwd, repo_path)):
                missing.add(path)
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
        if call in _LOOKUP_CALLS:
            continue
        if call in _CREATE_CALLS:
            created.add(_path_argument(call, args, pid, cwd, repo_path) or path)
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
                created.add(path)
                continue  # what the run writes (logs, results) is its output, not what it uses
            if _LIBRARY.search(posixpath.basename(path)):
                context.libraries.append(path)
            else:
                context.files.append(path)
    for context in contexts.values():
        for field in ("executables", "libraries", "files"):
            setattr(context, field, sorted(set(getattr(context, field))))
    seen = sorted(keys)
    kept = {k: v for k, v in contexts.items() if k == "" or k in units}
    return PerTestProbe(contexts=kept, tests_seen=seen, missing=_missing(missing, created))


def _path_argument(call: str, args: str, pid: str, cwd: dict[str, str], repo_path: str) -> str | None:
    """The absolute path a call named (the last one for a call that makes a second name), None for a path
    relative to another directory's descriptor."""
    strings = _STRING.findall(args)
    if not strings:
        return None
    raw = strings[-1] if call in _CREATED_LAST and len(strings) > 1 else strings[0]
    if not raw or (not raw.startswith("/") and call in _DIRECTORY_RELATIVE and "AT_FDCWD" not in args):
        return None
    return posixpath.normpath(posixpath.join(cwd.get(pid, repo_path), raw))


def _missing(missing: set[str], created: set[str]) -> list[str]:
    """What was looked for and never there: not what the run made itself (or anything under a directory it
    made), and not what lies where a shell's user keeps scratch and state."""

    def made_by_run(path: str) -> bool:
        directory = path
        while directory not in ("/", ""):
            if directory in created:
                return True
            directory = posixpath.dirname(directory)
        return False

    return sorted(path for path in missing if not path.startswith(_MISSING_IGNORED) and not made_by_run(path))


def _unit(pid: str, parent: dict[str, str], unit_of: dict[str, str]) -> str:
    """The unit ``pid`` runs in: its own or its nearest ancestor's; ``""`` (the session) when none."""
    seen = set()
    while pid not in unit_of and pid in parent and pid not in seen:
        seen.add(pid)
        pid = parent[pid]
    return unit_of.get(pid, "")
