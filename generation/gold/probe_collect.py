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

# Which exceptions a caller catches around an import or an open (inlined into the shipped collector).
from cligym.generation.gold.probe_guards import FileGuards, import_guards

STRACE_CALL = re.compile(
    r'^(?P<pid>\d+)\s+(?:(?P<ts>\d+\.\d+)\s+)?(?P<call>execve|openat|open)\((?:AT_FDCWD, |-?\d+, )?"(?P<path>[^"]*)"'
)
STRACE_UNFINISHED = re.compile(r"<unfinished \.\.\.>\s*$")
STRACE_RESUMED = re.compile(
    r"^(?P<pid>\d+)\s+(?:(?P<ts>\d+\.\d+)\s+)?<\.\.\. (?P<call>execve|openat|open) resumed>.*= (?P<ret>-?\d+)"
)
STRACE_RESULT = re.compile(r"= (?P<ret>-?\d+)(?: \w+ \(.*\))?\s*$")
IGNORED_PREFIXES = ("/proc/", "/sys/", "/dev/", "/tmp/", "/run/")
PYTHON_SUFFIXES = (".py", ".pyc", ".pth", ".pyi")
PROBE_MODULES = ("cligym_probe_hook", "cligym_probe_tests")
SHARED_LIBRARY = re.compile(r"\.so(\.\d+)*$")
PYTHON_PACKAGE_DIRS = ("/site-packages/", "/dist-packages/")
LDD_LINE = re.compile(r"=>\s*(?P<path>/\S+)|^\s*(?P<direct>/\S+)\s+\(")


def is_shared_library(path):
    return bool(SHARED_LIBRARY.search(os.path.basename(path)))


def parse_strace_events(text):
    """(call, path, timestamp or None) of every successful execve and open/openat call, in order.

    The first execve is the shell the probe itself starts the tests with, not something the tests run.
    """
    events = []
    pending = {}
    lines = text.splitlines()
    first_exec = next((i for i, line in enumerate(lines) if STRACE_CALL.match(line) and "execve(" in line), None)
    if first_exec is not None:
        del lines[first_exec]
    for line in lines:
        call = STRACE_CALL.match(line)
        if call:
            stamp = float(call["ts"]) if call["ts"] else None
            if STRACE_UNFINISHED.search(line):
                pending[call["pid"]] = (call["call"], call["path"], stamp)
                continue
            result = STRACE_RESULT.search(line)
            if result and int(result["ret"]) >= 0:
                events.append((call["call"], call["path"], stamp))
            continue
        resumed = STRACE_RESUMED.match(line)
        if resumed and resumed["pid"] in pending:
            name, path, stamp = pending.pop(resumed["pid"])
            if int(resumed["ret"]) >= 0:
                events.append((name, path, stamp))
    return events


def context_at(windows, stamp):
    """The innermost context whose time window holds ``stamp`` ("" for the session)."""
    best, best_start = "", None
    for name, start, end, _pid in windows:
        if start <= stamp <= end and (best_start is None or start >= best_start):
            best, best_start = name, start
    return best


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


TEMPFILE_NAME = re.compile(r"^/tmp/(tmp[a-z0-9_]{8}|pytest-of-|cligym)")


def is_scratch_file(path):
    """A path under /tmp the tests name themselves (not one tempfile or pytest chose)."""
    return path.startswith("/tmp/") and not TEMPFILE_NAME.match(path)


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


def library_links(paths):
    """realpath of each extension module -> the shared libraries it links (per ldd)."""
    links = {}
    for path in paths:
        try:
            completed = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        found = set()
        for line in completed.stdout.splitlines():
            match = LDD_LINE.search(line)
            target = match and (match["path"] or match["direct"])
            if target and os.path.isfile(target):
                found.add(os.path.realpath(target))
        links[path] = sorted(found)
    return links


def harness_files(harness, plugins, modules, dists, repo):
    """The files of the test harness's distributions: pytest, and every distribution one of whose modules
    pytest loaded before any conftest (its entry-point plugins) or registered as a plugin. A variable only
    their code reads (a plugin asking whether it runs under CI) is the harness's, not the project's."""
    owners = set()
    for name in set(harness) | set(plugins):
        file = modules.get(name)
        if not file or module_origin(file, repo, ()) == "repo":
            continue
        owner = dists.get(os.path.realpath(file))
        if owner:
            owners.add(owner[0])
    return {path for path, owner in dists.items() if owner[0] in owners}


def read_only_by(files, tooling):
    """Whether every file whose code read a variable belongs to the test harness (unknown readers: no)."""
    return bool(files) and all(os.path.realpath(file) in tooling for file in files)


def _read_json(pattern):
    loaded = []
    for name in sorted(glob.glob(pattern)):
        try:
            with open(name) as handle:
                loaded.append(json.load(handle))
        except (OSError, ValueError):
            continue
    return loaded


class _Normaliser:
    """Turns raw paths into what the report names: real library paths, interesting files, resolved programs."""

    def __init__(self, repo, probe_dir):
        self.repo, self.probe_dir = repo, probe_dir

    def libraries(self, paths):
        # Mapped libraries are reported by their real path; a symlink (libz.so.1) names the same file.
        return {os.path.realpath(p) for p in paths if is_shared_library(p) and os.path.isfile(p)}

    def executables(self, paths):
        return {p for p in (resolve_executable(p) for p in paths) if p.startswith("/")}

    def files(self, paths, executables):
        return {
            p
            for p in paths
            if is_interesting_file(p, self.repo, self.probe_dir)
            and os.path.isfile(p)
            and p not in executables
            and is_interesting_file(os.path.realpath(p), self.repo, self.probe_dir)
        }


def collect(probe_dir, repo):
    records = _read_json(os.path.join(probe_dir, "py-*.json"))
    sessions = _read_json(os.path.join(probe_dir, "tests-*.json"))
    windows = [window for session in sessions for window in session["windows"]]
    strace_path = os.path.join(probe_dir, "strace.log")
    traced = os.path.isfile(strace_path)
    normalise = _Normaliser(repo, probe_dir)
    # context -> kind -> raw values, from every process (a child's whole life is its parent test's context).
    raw = {}

    def add(context, kind, values):
        raw.setdefault(context, {}).setdefault(kind, set()).update(values)

    if traced:
        with open(strace_path, errors="replace") as handle:
            for call, path, stamp in parse_strace_events(handle.read()):
                context = context_at(windows, stamp) if stamp is not None else ""
                add(context, "executed" if call == "execve" else "opened", [path])
    modules = {}
    edges = {}
    name_edges = {}
    sites = {}
    env_files = {}
    open_sites = {}
    for record in records:
        for module, file in record["modules"].items():
            if modules.get(module) is None:
                modules[module] = file
        add(record.get("context", ""), "maps", record["maps"])
        for context, sets in record.get("contexts", {}).items():
            for kind, values in sets.items():
                add(context, kind, values)
        for importer, names in record.get("edges", {}).items():
            edges.setdefault(importer, set()).update(names)
        for importer, names in record.get("name_edges", {}).items():
            name_edges.setdefault(importer, set()).update(names)
        for caller, imported in record.get("sites", {}).items():
            for name, lines in imported.items():
                sites.setdefault(caller, {}).setdefault(name, set()).update(lines)
        for context, found in record.get("env_files", {}).items():
            for name, files in found.items():
                env_files.setdefault(context, {}).setdefault(name, set()).update(files)
        for context, found in record.get("open_sites", {}).items():
            for path, stacks in found.items():
                known = open_sites.setdefault(context, {}).setdefault(path, [])
                known.extend(stack for stack in stacks if stack not in known)

    stdlib_dirs = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}

    def from_stdlib_only(launches):
        """Programs every start of which came from a standard-library module (it has its own fallback)."""
        launchers = {}
        for launch in launches:
            module, _, program = launch.partition(">")
            launchers.setdefault(program, set()).add(module_origin(modules.get(module), repo, stdlib_dirs))
        return {program for program, origins in launchers.items() if origins == {"stdlib"}}

    dists = distribution_owners()
    harness = sorted({name for session in sessions for name in session.get("harness", [])} - set(PROBE_MODULES))
    plugins = set()
    for session in sessions:
        plugins.update(session.get("plugins", []))
    tooling = harness_files(harness, plugins, modules, dists, repo)
    guards = FileGuards()

    contexts = {}
    for context, sets in raw.items():
        helpers = normalise.executables(from_stdlib_only(sets.get("launched", ())))
        executables = normalise.executables(sets.get("executed", ())) - helpers
        opened = sets.get("opened", set()) | sets.get("dlopen", set())
        contexts[context] = {
            "imports": sorted(name for name in sets.get("imports", ()) if name not in PROBE_MODULES),
            "libraries": sorted(normalise.libraries(opened | sets.get("maps", set()))),
            "executables": sorted(executables),
            "files": sorted(normalise.files(sets.get("opened", ()), executables | helpers)),
            # A variable the context sets itself never gets the image's value there.
            "env": sorted(
                name
                for name in sets.get("env", set()) - sets.get("env_set", set())
                if not name.startswith("CLIGYM_") and not read_only_by(env_files.get(context, {}).get(name), tooling)
            ),
            "hosts": sorted(sets.get("hosts", ())),
            "names": sorted(sets.get("names", ())),
            "calls": sorted(sets.get("calls", ())),
            "functions": sorted(sets.get("functions", ())),
            "scratch": sorted(p for p in sets.get("opened", ()) if is_scratch_file(p))[:200],
        }
        contexts[context]["file_guards"] = guards.of(open_sites.get(context, {}), contexts[context]["files"])
    libraries = set().union(*(set(c["libraries"]) for c in contexts.values()))
    executables = set().union(*(set(c["executables"]) for c in contexts.values()))
    files = set().union(*(set(c["files"]) for c in contexts.values()))
    env = set().union(*(set(c["env"]) for c in contexts.values()))

    module_rows = []
    extensions = {}
    for name in sorted(modules):
        if name in PROBE_MODULES:
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
        if file and is_shared_library(file) and os.path.isfile(file):
            extensions[name] = os.path.realpath(file)
    links = library_links(sorted(set(extensions.values())))
    # Modules under /usr/lib belong to Debian packages (the standard library, python3-* distributions).
    module_files = {row["file"] for row in module_rows if row["file"] and row["file"].startswith("/usr/lib/")}
    owners = dpkg_owners(sorted(libraries | files | executables | module_files))
    for row in module_rows:
        row["package"] = owners.get(row["file"]) if row["file"] in module_files else None
    fixtures = {}
    providers = {}
    resources = {}
    for session in sessions:
        resources.update(session.get("resources", {}))
        fixtures.update(session.get("fixtures", {}))
        providers.update({k: v for k, v in session.get("providers", {}).items() if v})
    return {
        "modules": module_rows,
        "shared_libraries": [{"path": p, "package": owners.get(p)} for p in sorted(libraries)],
        "executables": [
            {
                "path": p,
                "package": owners.get(p),
                # A console script is owned by the Python distribution that installed it.
                "distribution": (dists.get(os.path.realpath(p)) or (None, None))[0],
                "distribution_version": (dists.get(os.path.realpath(p)) or (None, None))[1],
            }
            for p in sorted(executables)
        ],
        "env_vars": sorted(env),
        "files": [{"path": p, "package": owners.get(p)} for p in sorted(files)],
        "python_processes": len(records),
        "strace": traced,
        "per_test": {
            "contexts": contexts,
            "import_edges": {k: sorted(v - set(PROBE_MODULES)) for k, v in sorted(edges.items())},
            "name_edges": {k: sorted(v) for k, v in sorted(name_edges.items())},
            "import_guards": import_guards(sites, modules),
            # An extension module's own file counts as a library the module needs, with what it links.
            "extension_links": {
                name: sorted({path, *links.get(path, [])}) for name, path in sorted(extensions.items())
            },
            "harness_modules": harness,
            "harness_functions": sorted({f for session in sessions for f in session.get("harness_functions", [])}),
            "fixtures": fixtures,
            "fixture_providers": providers,
            "pytest_plugins": sorted(plugins - set(PROBE_MODULES)),
            "tests_seen": sorted({w[0] for w in windows if "::" in w[0]}),
            "resources": resources,
        }
        if sessions
        else None,
    }


if __name__ == "__main__":
    probe_dir, repo, output = sys.argv[1:4]
    with open(output, "w") as out:
        json.dump(collect(probe_dir, repo), out)
