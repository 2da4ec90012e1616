"""One function of a module replaced by a stub that raises: the breaks aimed at a function some tests call.

The module's source plus a tail rebinding the function (``f`` or ``Class.f``) to a stub that keeps its name
is written either into the module's cache file as unchecked-hash bytecode (the source still reads fine) or
into the source itself (a half-finished local patch). A start-up hook can rebind it at run time instead.
"""

from __future__ import annotations

import random
import shlex
from typing import Literal

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import BreakStep, FaultOperator, ModuleTarget, run

FUNCTION_TARGETS = 40

STUB_ERRORS = ("NotImplementedError", "NotImplementedError('not available in this build')")
_STUB_SCRIPT = (
    "import importlib.util as u, py_compile as p, sys; m, q, e, into = sys.argv[1:5]; "
    "s = u.find_spec(m).origin; owner, _, n = q.rpartition('.'); "
    "tail = ['def _stale(*args, **kwargs):', '    raise ' + e, "
    "'_stale.__code__ = _stale.__code__.replace(co_name=%r, co_qualname=%r)' % (n, q), "
    "'_stale.__name__, _stale.__qualname__ = %r, %r' % (n, q), "
    "(owner + '.' + n if owner else n) + ' = _stale', 'del _stale']; "
    "text = open(s).read() + chr(10) + chr(10).join(tail) + chr(10); "
    "w = '/tmp/.cligym-stale.py' if into == 'bytecode' else s; open(w, 'w').write(text); "
    "p.compile(w, cfile=u.cache_from_source(s), dfile=s, doraise=True, "
    "invalidation_mode=p.PycInvalidationMode.UNCHECKED_HASH if into == 'bytecode' else "
    "p.PycInvalidationMode.TIMESTAMP)"
)


def stub_function(target: ModuleTarget, error: str, into: Literal["bytecode", "source"]) -> BreakStep:
    """``target.attribute`` of module ``target.name`` raising ``error``, in its bytecode or its source."""
    arguments = " ".join(shlex.quote(a) for a in (target.name, target.function(), error, into))
    return run(f'python -c "{_STUB_SCRIPT}" {arguments}')


def startup_stub_line(target: ModuleTarget, error: str) -> str:
    """A ``.pth`` line rebinding the function at interpreter start-up, wherever a loaded module holds it (a
    package re-exporting it bound the original while the module was imported). The code runs in a namespace
    of its own: site's ``exec`` of a ``.pth`` line hides its names from nested scopes. When the module cannot
    be imported yet (the project's own path entry comes from a ``.pth`` file read later), the rebinding
    waits on ``sys.meta_path`` until the module is first imported."""
    owner, _, name = target.function().rpartition(".")
    code = "\n".join(
        [
            "import importlib, importlib.util, sys",
            "def _patch():",
            f"    _module = importlib.import_module({target.name!r})",
            f"    _owner = {f'eval({owner!r}, vars(_module))' if owner else '_module'}",
            f"    _original = getattr(_owner, {name!r})",
            f"    def {name}(*args, **kwargs):",
            f"        raise {error}",
            "    for _loaded in list(sys.modules.values()):",
            f"        if getattr(_loaded, '__dict__', {{}}).get({name!r}) is _original:",
            f"            setattr(_loaded, {name!r}, {name})",
            f"    setattr(_owner, {name!r}, {name})",
            "class _WhenImported:",
            "    def find_spec(self, fullname, path=None, target=None):",
            f"        if fullname != {target.name!r}:",
            "            return None",
            "        sys.meta_path.remove(self)",
            "        spec = importlib.util.find_spec(fullname)",
            "        if spec is not None and spec.loader is not None:",
            "            _run = spec.loader.exec_module",
            "            def exec_module(module):",
            "                _run(module)",
            "                _patch()",
            "            spec.loader.exec_module = exec_module",
            "        return spec",
            "try:",
            "    _patch()",
            "except ImportError:",
            "    sys.meta_path.insert(0, _WhenImported())",
        ]
    )
    return f"import sys; exec({code!r}, {{}})"


def tests_calling_function(gold: GoldRecord, target: ModuleTarget) -> frozenset[str] | None:
    """The gold tests that call the function a target names (None: the record has no per-test probe)."""
    footprint = gold.footprint
    return None if footprint is None else footprint.tests_using("functions", f"{target.name}:{target.attribute}")


class FunctionStubFault(FaultOperator[ModuleTarget]):
    """An operator aimed at one function: the tests expected to fail are those that call it."""

    def expected_failures(self, gold: GoldRecord, target: ModuleTarget) -> frozenset[str] | None:
        return tests_calling_function(gold, target)


class SourcePatchStub(FunctionStubFault):
    """The stub written into the module's source: a local patch left in a library someone else installed."""

    def break_steps(self, target: ModuleTarget, rng: random.Random) -> list[BreakStep]:
        return [stub_function(target, rng.choice(STUB_ERRORS), into="source")]
