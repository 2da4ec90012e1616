"""Runs inside every Python process of a probe container (loaded by a .pth file) and records, at exit,
the modules imported, the shared libraries mapped, files opened, programs started, environment variables
read and host names resolved. Standard library only: it runs in the project's interpreter, not ours.

Everything is recorded per *context*: the pytest plugin ``cligym_probe_tests`` switches the context to the
collector or test being run, and child processes inherit it through ``CLIGYM_PROBE_CONTEXT``, so a program
a test starts counts for that test. Imports form a graph: an import statement (``builtins.__import__``,
cached or not) or a first load run while a module's body executes is an edge from that module; one run
outside any module body (inside a test, a fixture, a function called later) belongs to the context. A
test's import closure is computed afterwards from both. ``from m import name`` also records ``m:name``, so
the tests relying on one attribute of a module are known. Each import also records its site (the calling
module and line), so the collector can tell an import guarded by ``try``/``except ImportError`` (an optional
accelerator, a feature probe) from one whose failure propagates. Variables a test sets itself (``os.putenv``,
``monkeypatch.setenv``) are recorded too: the image's value of those never reaches the test. Each variable
read keeps the file of the code that read it (pytest's plugins read CI-detection variables, not the
project), and each data file opened keeps the call stack below pytest that opened it, so the collector can
tell a file the code falls back without (a search path tried in order, inside ``try``/``except OSError``).

Nothing happens unless CLIGYM_PROBE_DIR is set, so importing it elsewhere is harmless.
"""

import atexit
import builtins
import json
import os
import sys

_DIR = os.environ.get("CLIGYM_PROBE_DIR")
_LIMIT = 50000
# Bulk readers of os.environ (copying it for a child, iterating it) are not "reads" of a variable.
_BULK_READERS = {"copy", "__iter__", "items", "values", "keys", "__eq__", "__repr__", "_data"}
# Nor is one line of code reading most of the environment: ``dict(os.environ)`` or ``{**os.environ}`` read
# every variable from C, so only the line they ran on tells them apart from a read by name.
_BULK_SITE_MIN = 8
# os and _collections_abc are frozen in 3.11+ (their code names "<frozen os>"), plain files in older builds.
_ENV_PLUMBING = ("/os.py", "/_collections_abc.py", "<frozen os>", "<frozen _collections_abc>")
_KINDS = (
    "opened",
    "executed",
    "launched",
    "env",
    "env_set",
    "imports",
    "hosts",
    "dlopen",
    "names",
    "calls",
    "functions",
)

context = os.environ.get("CLIGYM_PROBE_CONTEXT", "")
# A child of a test counts wholly for that test; the outermost process only for what it mapped at start.
_INHERITED = context
_startup_maps: set = set()
_buckets: dict = {}
_edges: dict = {}
_name_edges: dict = {}
# caller module -> imported module -> the lines of the statements (or import_module calls) that imported it.
_sites: dict = {}
# context -> (file, line) of the code that read variables -> the variables it read.
_env_reads: dict = {}
# context -> path -> the call stacks ((file, line) from the opener outwards) that opened it: an open inside
# ``try``/``except OSError`` somewhere below the test (a fallback, a search path tried in order) is optional.
_open_sites: dict = {}
_OPEN_DEPTH = 12
_HARNESS_TOPS = ("_pytest", "pytest", "pluggy")
_NOT_DATA = (".py", ".pyc", ".pth", ".so")
_NOT_DATA_DIRS = ("/proc/", "/dev/", "/sys/")


def bucket(name=None):
    """The sets of one context (the current one by default)."""
    key = context if name is None else name
    found = _buckets.get(key)
    if found is None:
        found = _buckets[key] = {kind: set() for kind in _KINDS}
    return found


def _add(kind, value):
    found = bucket()[kind]
    if len(found) < _LIMIT:
        found.add(value)


def _audit(event, args):
    try:
        if event == "open":
            path = args[0]
            if isinstance(path, (str, bytes)):
                shown = os.fsdecode(path)
                _add("opened", shown)
                if shown.startswith("/") and not shown.startswith(_NOT_DATA_DIRS) and not shown.endswith(_NOT_DATA):
                    _open_site(shown)
        elif event == "import":
            # The code that asked for the module is the nearest frame outside the import machinery: an edge
            # when that is a module body, else a runtime import (a package's lazy __getattr__, a function).
            caller, line = _calling_site()
            _import_from(caller if caller and _initializing(caller) else None, args[0], caller, line)
        elif event == "subprocess.Popen":
            executable, argv = args[0], args[1]
            if executable is None and argv:
                executable = argv if isinstance(argv, (str, bytes)) else argv[0]
            if executable is not None:
                shown = os.fsdecode(executable)
                _launched(shown.split()[0] if isinstance(argv, (str, bytes)) and shown.strip() else shown)
        elif event in ("os.exec", "os.posix_spawn"):
            _launched(os.fsdecode(args[0]))
        elif event == "os.system":
            _add("executed", "/bin/sh")
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
            host = args[0]
            if isinstance(host, (str, bytes)) and host:
                _add("hosts", os.fsdecode(host))
        elif event in ("os.putenv", "os.unsetenv"):
            key = args[0]
            if isinstance(key, (str, bytes)):
                _add("env_set", os.fsdecode(key))
        elif event == "ctypes.dlopen" and args[0]:
            _add("dlopen", os.fsdecode(args[0]))
    except Exception:  # a probe must never break the tests it observes
        pass


def _open_site(path):
    """The stack that opened ``path``, from the opener up to the first frame of pytest itself (pytest's
    runner catches everything, so only the code below it says whether a failure to open is handled)."""
    paths = _open_sites.setdefault(context, {})
    stacks = paths.get(path)
    if stacks is None:
        if len(paths) >= _LIMIT:
            return
        stacks = paths[path] = set()
    if len(stacks) >= 4:
        return
    frame, stack = sys._getframe(2), []
    while frame is not None and len(stack) < _OPEN_DEPTH:
        name = frame.f_globals.get("__name__") or ""
        if name.partition(".")[0] in _HARNESS_TOPS:
            break
        if not name.startswith("cligym_probe"):
            stack.append((frame.f_code.co_filename, frame.f_lineno))
        frame = frame.f_back
    stacks.add(tuple(stack))


def _launched(program):
    """A program started, with the module that started it (the standard library's own helpers, such as
    ``platform`` running ``uname``, fall back when the program fails)."""
    _add("executed", program)
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name and name not in ("subprocess", "os") and not name.startswith("cligym_probe"):
            _add("launched", f"{name}>{program}")
            return
        frame = frame.f_back


def _import_from(importer, name, caller=None, line=None):
    """An edge when a module body imports, else a direct import of the current context (with the module
    whose function ran it, so pytest's own lazy imports can be told from the project's)."""
    if caller and line and caller != name:
        lines = _sites.setdefault(caller, {}).setdefault(name, set())
        if len(lines) < 20:
            lines.add(line)
    if importer and importer != name:
        found = _edges.setdefault(importer, set())
        if len(found) < _LIMIT:
            found.add(name)
    elif not importer:
        _add("imports", name)
        if caller:
            _add("calls", f"{caller}>{name}")


def _name_from(importer, qualified):
    if importer:
        found = _name_edges.setdefault(importer, set())
        if len(found) < _LIMIT:
            found.add(qualified)
    else:
        _add("names", qualified)


# The import machinery, and the codec registry's (a codec is imported by ``encodings`` for whoever encodes).
_MACHINERY = {"importlib", "_frozen_importlib", "_frozen_importlib_external", "encodings", "codecs"}


def _calling_site(depth=2):
    """The module whose code is running on this thread's stack, outside the import machinery, and its line."""
    frame = sys._getframe(depth)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name and name.partition(".")[0] not in _MACHINERY and not name.startswith("cligym_probe"):
            return name, frame.f_lineno
        frame = frame.f_back
    return None, None


def _initializing(name):
    spec = getattr(sys.modules.get(name), "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _resolve(name, globals_, level):
    package = (globals_ or {}).get("__package__") or ""
    if not level:
        return name
    parts = package.rsplit(".", level - 1)
    base = parts[0] if len(parts) >= level else package
    return f"{base}.{name}" if name else base


def _install(directory):
    _startup_maps.update(mapped_libraries())
    sys.addaudithook(_audit)

    original_import = builtins.__import__

    def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
        module = original_import(name, globals, locals, fromlist, level)
        try:
            resolved = _resolve(name, globals, level)
            caller = (globals or {}).get("__name__")
            line = sys._getframe(1).f_lineno
            if caller in ("encodings", "codecs"):
                caller, line = _calling_site(1)
            importer = caller if caller and _initializing(caller) else None
            _import_from(importer, resolved, caller, line)
            for item in fromlist or ():
                if item == "*":
                    continue
                if f"{resolved}.{item}" in sys.modules:
                    _import_from(importer, f"{resolved}.{item}", caller, line)
                else:
                    _name_from(importer, f"{resolved}:{item}")
        except Exception:
            pass
        return module

    builtins.__import__ = recording_import

    environ_type = type(os.environ)
    original_getitem = environ_type.__getitem__

    def recording_getitem(self, key):
        try:
            frame = sys._getframe(1)
            if frame.f_code.co_name not in _BULK_READERS:
                while frame.f_back is not None and frame.f_code.co_filename.endswith(_ENV_PLUMBING):
                    frame = frame.f_back  # os.getenv, os.environ.get: the read is their caller's
                site = (frame.f_code.co_filename, frame.f_lineno)
                reads = _env_reads.setdefault(context, {}).setdefault(site, set())
                if len(reads) < _LIMIT:
                    reads.add(key if isinstance(key, str) else os.fsdecode(key))
        except Exception:
            pass
        return original_getitem(self, key)

    environ_type.__getitem__ = recording_getitem  # type: ignore[method-assign]

    def dump():
        present = len(os.environ)
        # context -> variable -> the files whose code read it (who reads a variable: the project or pytest).
        env_files: dict = {}
        for name, sites in _env_reads.items():
            for (file, _line), names in sites.items():
                if len(names) < max(_BULK_SITE_MIN, present * 3 // 4):
                    bucket(name)["env"].update(names)
                    for variable in names:
                        env_files.setdefault(name, {}).setdefault(variable, set()).add(file)
        modules = {}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            modules[name] = file if isinstance(file, str) else None
        record = {
            "pid": os.getpid(),
            "argv": [str(a) for a in sys.argv[:4]],
            "context": _INHERITED,
            "modules": modules,
            "maps": sorted(mapped_libraries() if _INHERITED else _startup_maps),
            "contexts": {
                key: {kind: sorted(values) for kind, values in sets.items()} for key, sets in _buckets.items()
            },
            "edges": {importer: sorted(names) for importer, names in _edges.items()},
            "name_edges": {importer: sorted(names) for importer, names in _name_edges.items()},
            "sites": {caller: {name: sorted(at) for name, at in sites.items()} for caller, sites in _sites.items()},
            "env_files": {key: {v: sorted(f) for v, f in found.items()} for key, found in env_files.items()},
            "open_sites": {
                key: {path: [list(map(list, stack)) for stack in stacks] for path, stacks in found.items()}
                for key, found in _open_sites.items()
            },
        }
        try:
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, f"py-{os.getpid()}.json"), "w") as out:
                json.dump(record, out)
        except OSError:
            pass

    atexit.register(dump)


def mapped_libraries():
    """Shared objects mapped into this process right now."""
    mapped = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                parts = line.split(None, 5)
                if len(parts) == 6 and ".so" in parts[5]:
                    mapped.add(parts[5].strip())
    except OSError:
        pass
    return mapped


if _DIR:
    _install(_DIR)
