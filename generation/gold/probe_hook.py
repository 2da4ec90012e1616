"""Runs inside every Python process of a probe container (loaded by a .pth file) and records, at exit,
the modules imported, the shared libraries mapped, files opened, programs started and environment
variables read. Standard library only: it runs in the project's interpreter, not ours.

Nothing happens unless CLIGYM_PROBE_DIR is set, so importing it elsewhere is harmless.
"""

import atexit
import json
import os
import sys

_DIR = os.environ.get("CLIGYM_PROBE_DIR")
_LIMIT = 50000
# Bulk readers of os.environ (copying it for a child, iterating it) are not "reads" of a variable.
_BULK_READERS = {"copy", "__iter__", "items", "values", "keys", "__eq__", "__repr__", "_data"}


def _install(directory: str) -> None:
    opened: set = set()
    executed: set = set()
    env_read: set = set()

    def audit(event: str, args: tuple) -> None:
        try:
            if event == "open":
                path = args[0]
                if isinstance(path, (str, bytes)) and len(opened) < _LIMIT:
                    opened.add(os.fsdecode(path))
            elif event == "subprocess.Popen":
                executable, argv = args[0], args[1]
                if executable is None and argv:
                    executable = argv if isinstance(argv, (str, bytes)) else argv[0]
                if executable is not None:
                    executed.add(
                        os.fsdecode(executable).split()[0]
                        if isinstance(argv, (str, bytes))
                        else os.fsdecode(executable)
                    )
            elif event in ("os.exec", "os.posix_spawn"):
                executed.add(os.fsdecode(args[0]))
            elif event == "os.system":
                executed.add("/bin/sh")
        except Exception:  # a probe must never break the tests it observes
            pass

    sys.addaudithook(audit)

    environ_type = type(os.environ)
    original_getitem = environ_type.__getitem__

    def recording_getitem(self, key):
        caller = sys._getframe(1).f_code.co_name
        if caller not in _BULK_READERS and len(env_read) < _LIMIT:
            env_read.add(key if isinstance(key, str) else os.fsdecode(key))
        return original_getitem(self, key)

    environ_type.__getitem__ = recording_getitem  # type: ignore[method-assign]

    def dump() -> None:
        modules = {}
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            modules[name] = file if isinstance(file, str) else None
        mapped = set()
        try:
            with open("/proc/self/maps") as maps:
                for line in maps:
                    parts = line.split(None, 5)
                    if len(parts) == 6 and ".so" in parts[5]:
                        mapped.add(parts[5].strip())
        except OSError:
            pass
        record = {
            "pid": os.getpid(),
            "argv": [str(a) for a in sys.argv[:4]],
            "modules": modules,
            "maps": sorted(mapped),
            "opened": sorted(opened),
            "executed": sorted(executed),
            "env": sorted(env_read),
        }
        try:
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, f"py-{os.getpid()}.json"), "w") as out:
                json.dump(record, out)
        except OSError:
            pass

    atexit.register(dump)


if _DIR:
    _install(_DIR)
