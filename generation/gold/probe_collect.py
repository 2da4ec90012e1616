"""Merges what the probe recorded into one report. Runs inside the probe container (it needs the
container's paths, dpkg database and installed distributions); standard library only.

    python3 probe_collect.py PROBE_DIR REPO_PATH OUTPUT_JSON
"""

import glob
import json
import os
import re
import subprocess
import sys
import sysconfig

STRACE_CALL = re.compile(r'^(?P<pid>\d+)\s+(?P<call>execve|openat|open)\((?:AT_FDCWD, |-?\d+, )?"(?P<path>[^"]*)"')
STRACE_UNFINISHED = re.compile(r"<unfinished \.\.\.>\s*$")
STRACE_RESUMED = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. (?P<call>execve|openat|open) resumed>.*= (?P<ret>-?\d+)")
STRACE_RESULT = re.compile(r"= (?P<ret>-?\d+)(?: \w+ \(.*\))?\s*$")
IGNORED_PREFIXES = ("/proc/", "/sys/", "/dev/", "/tmp/", "/run/")
PYTHON_SUFFIXES = (".py", ".pyc", ".pth", ".pyi")
PROBE_MODULE = "cligym_probe_hook"
SHARED_LIBRARY = re.compile(r"\.so(\.\d+)*$")
PYTHON_PACKAGE_DIRS = ("/site-packages/", "/dist-packages/")


def is_shared_library(path):
    return bool(SHARED_LIBRARY.search(os.path.basename(path)))


def parse_strace(text):
    """(executables, opened files): paths of successful execve and open/openat calls.

    The first execve is the shell the probe itself starts the tests with, not something the tests run.
    """
    executed, opened = set(), set()
    pending = {}
    lines = text.splitlines()
    first_exec = next((i for i, line in enumerate(lines) if STRACE_CALL.match(line) and "execve(" in line), None)
    if first_exec is not None:
        del lines[first_exec]
    for line in lines:
        call = STRACE_CALL.match(line)
        if call:
            if STRACE_UNFINISHED.search(line):
                pending[call["pid"]] = (call["call"], call["path"])
                continue
            result = STRACE_RESULT.search(line)
            if result and int(result["ret"]) >= 0:
                (executed if call["call"] == "execve" else opened).add(call["path"])
            continue
        resumed = STRACE_RESUMED.match(line)
        if resumed and resumed["pid"] in pending:
            name, path = pending.pop(resumed["pid"])
            if int(resumed["ret"]) >= 0:
                (executed if name == "execve" else opened).add(path)
    return executed, opened


def module_origin(file, repo, stdlib_dirs):
    if not file:
        return "builtin"
    real = os.path.realpath(file)
    if real == repo or real.startswith(repo.rstrip("/") + "/"):
        return "repo"
    if "/site-packages/" in real or "/dist-packages/" in real:
        return "site-packages"
    if any(real.startswith(d.rstrip("/") + "/") for d in stdlib_dirs):
        return "stdlib"
    return "other"


def is_interesting_file(path, repo, probe_dir):
    """A config or data file outside the repository: not Python code, not a library, not scratch space."""
    if not path.startswith("/") or path.startswith(IGNORED_PREFIXES) or path.startswith(probe_dir):
        return False
    if path == repo or path.startswith(repo.rstrip("/") + "/"):
        return False
    # Installed distributions (their modules and metadata) are reported as modules, not as files.
    if any(marker in path for marker in PYTHON_PACKAGE_DIRS):
        return False
    return not (path.endswith(PYTHON_SUFFIXES) or "/__pycache__/" in path or is_shared_library(path))


def usrmerge_variants(path):
    """Debian's dpkg database may list /lib/x or /usr/lib/x for the same file on merged-/usr systems."""
    variants = [path]
    for merged, legacy in (("/usr/lib/", "/lib/"), ("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/")):
        if path.startswith(merged):
            variants.append(legacy + path[len(merged) :])
        elif path.startswith(legacy):
            variants.append(merged + path[len(legacy) :])
    return variants


def dpkg_owners(paths):
    owners = {}
    queries = {}
    for path in paths:
        for variant in usrmerge_variants(path):
            queries.setdefault(variant, path)
    variants = sorted(queries)
    for start in range(0, len(variants), 200):
        try:
            completed = subprocess.run(["dpkg", "-S", *variants[start : start + 200]], capture_output=True, text=True)
        except OSError:
            return owners
        for line in completed.stdout.splitlines():
            package, sep, owned = line.partition(": ")
            if sep and owned in queries and "diversion" not in package:
                owners.setdefault(queries[owned], package.split(",")[0].split(":")[0].strip())
    return owners


def distribution_owners():
    """realpath of each installed file -> (distribution name, version)."""
    from importlib import metadata

    owners = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        for file in dist.files or []:
            owners.setdefault(os.path.realpath(str(dist.locate_file(file))), (name, dist.version))
    return owners


def resolve_executable(path):
    if "/" in path:
        return path
    for directory in os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":"):
        candidate = os.path.join(directory, path)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return path


def collect(probe_dir, repo):
    records = []
    for name in sorted(glob.glob(os.path.join(probe_dir, "py-*.json"))):
        try:
            with open(name) as handle:
                records.append(json.load(handle))
        except (OSError, ValueError):
            continue
    strace_path = os.path.join(probe_dir, "strace.log")
    traced = os.path.isfile(strace_path)
    executed, opened = set(), set()
    if traced:
        with open(strace_path, errors="replace") as handle:
            executed, opened = parse_strace(handle.read())
    modules = {}
    libraries = set()
    env = set()
    for record in records:
        for module, file in record["modules"].items():
            if modules.get(module) is None:
                modules[module] = file
        libraries.update(record["maps"])
        opened.update(record["opened"])
        executed.update(resolve_executable(p) for p in record["executed"])
        env.update(record["env"])
    libraries.update(p for p in opened if is_shared_library(p))
    # Mapped libraries are reported by their real path; a symlink (libz.so.1) names the same file.
    libraries = {os.path.realpath(p) for p in libraries if os.path.isfile(p) and is_shared_library(p)}
    executables = {p for p in executed if p.startswith("/")}
    files = {
        p
        for p in opened
        if is_interesting_file(p, repo, probe_dir)
        and os.path.isfile(p)
        and p not in executables
        and is_interesting_file(os.path.realpath(p), repo, probe_dir)
    }

    stdlib_dirs = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    dists = distribution_owners()
    module_rows = []
    for name in sorted(modules):
        if name == PROBE_MODULE:
            continue
        file = modules[name]
        origin = module_origin(file, repo, stdlib_dirs)
        dist = dists.get(os.path.realpath(file)) if file and origin in ("site-packages", "other") else None
        module_rows.append(
            {
                "name": name,
                "file": file,
                "origin": origin,
                "distribution": dist[0] if dist else None,
                "distribution_version": dist[1] if dist else None,
            }
        )
    owners = dpkg_owners(sorted(libraries | files | executables))
    env = {name for name in env if not name.startswith("CLIGYM_")}  # our own harness variables
    return {
        "modules": module_rows,
        "shared_libraries": [{"path": p, "package": owners.get(p)} for p in sorted(libraries)],
        "executables": [{"path": p, "package": owners.get(p)} for p in sorted(executables)],
        "env_vars": sorted(env),
        "files": [{"path": p, "package": owners.get(p)} for p in sorted(files)],
        "python_processes": len(records),
        "strace": traced,
    }


if __name__ == "__main__":
    probe_dir, repo, output = sys.argv[1:4]
    with open(output, "w") as out:
        json.dump(collect(probe_dir, repo), out)
