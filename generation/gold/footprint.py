"""The per-test probe: what each gold test uses, and which tests use a given thing.

The probe records *contexts* (``PerTestProbe.contexts``): the session (""), each collector while it collects
(a test module's imports happen then) and each test from setup to teardown; child processes count for the
context that started them. A test uses everything in its own context, in every collector that contains it
and in the session; its modules are the import closure of what those contexts imported (the import graph's
edges were recorded when each module was first loaded, so a module cached by an earlier test still counts).

``Footprint`` answers the questions operators ask: which gold tests import this module, load this library,
open this file, run this program, read this variable, resolve this host, request this fixture. A target
nobody uses is not a target; the tests that use it are the tests expected to fail.

An import inside ``try: ... except ImportError`` (an optional accelerator, a feature probe) does not spread a
failure that handler catches: asked what a break *raising* ``ImportError`` fails, the closure does not follow
such edges, so breaking ``_asyncio`` fails no test merely because ``asyncio`` can do without it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, Field

# The exception a break makes an import raise, and the handlers that catch it.
# "AttributeError" stands for a module that imports but lacks what its users need (emptied, shadowed by an
# empty one): only a broad handler around the import and its first use catches that.
# "FileNotFoundError" and "ValueError" stand for a data file removed and one whose contents no longer parse:
# they apply to files, whose opens are guarded when some frame below the test catches them (a fallback).
Raising = Literal["ImportError", "SyntaxError", "PermissionError", "AttributeError", "FileNotFoundError", "ValueError"]
_OS_ERRORS = frozenset({"OSError", "IOError", "EnvironmentError", "Exception", "BaseException"})
CATCHERS: dict[str, frozenset[str]] = {
    "AttributeError": frozenset({"Exception", "BaseException"}),
    "ImportError": frozenset({"ImportError", "Exception", "BaseException"}),
    "SyntaxError": frozenset({"SyntaxError", "Exception", "BaseException"}),
    "PermissionError": _OS_ERRORS | {"PermissionError"},
    "FileNotFoundError": _OS_ERRORS | {"FileNotFoundError"},
    "ValueError": frozenset({"ValueError", "Exception", "BaseException"}),
}

# What starts a program (``python -m X``, a script): the modules these import at run time are the program a
# child process runs, not code pytest needs, even though pytest's own process loaded them first.
LAUNCHERS = frozenset({"__main__", "runpy"})

UseKind = Literal[
    "modules", "libraries", "files", "executables", "env", "hosts", "fixtures", "names", "scratch", "functions"
]


class TestContext(BaseModel):
    """What one context did directly (imports are the statements it ran, not their closure)."""

    __test__ = False  # not a pytest test class

    imports: list[str] = Field(default_factory=list)
    libraries: list[str] = Field(default_factory=list)
    executables: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    env: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list, description="module:attribute of each `from m import a`.")
    calls: list[str] = Field(default_factory=list, description="caller>module of each import run by a function.")
    scratch: list[str] = Field(default_factory=list, description="Paths under /tmp the tests name themselves.")
    functions: list[str] = Field(
        default_factory=list, description="module:qualname of project functions and clock/locale C functions called."
    )
    file_guards: dict[str, list[list[str]]] = Field(
        default_factory=dict,
        description="file -> per call stack that opened it, the exceptions caught around the open (all guarded).",
    )


class TestResources(BaseModel):
    """The most one context held at once: file descriptors, address space in kB, call-stack depth."""

    __test__ = False

    fds: int = 0
    vm_kb: int = 0
    depth: int = Field(0, description="The deepest Python call stack, in frames (0: not measured).")


class PerTestProbe(BaseModel):
    """The raw per-context record of one probe run (the source of every ``Footprint`` answer)."""

    contexts: dict[str, TestContext] = Field(default_factory=dict)
    import_edges: dict[str, list[str]] = Field(
        default_factory=dict, description="module -> the modules its loading imported (the import graph)."
    )
    name_edges: dict[str, list[str]] = Field(
        default_factory=dict, description="module -> module:attribute its body imports by name."
    )
    extension_links: dict[str, list[str]] = Field(
        default_factory=dict, description="extension module -> the shared libraries it links (ldd)."
    )
    import_guards: dict[str, dict[str, list[list[str]]]] = Field(
        default_factory=dict,
        description="caller -> module -> per statement of the caller importing it, the exceptions caught around it.",
    )
    harness_modules: list[str] = Field(
        default_factory=list, description="Modules pytest had loaded before any conftest: the test harness."
    )
    harness_functions: list[str] = Field(
        default_factory=list,
        description="Library functions (module:qualname) the repository calls that code outside it called too.",
    )
    fixtures: dict[str, list[str]] = Field(default_factory=dict, description="test -> the fixtures it requested.")
    fixture_providers: dict[str, str] = Field(default_factory=dict, description="fixture -> its defining module.")
    pytest_plugins: list[str] = Field(default_factory=list, description="Plugin modules the gold run loaded.")
    tests_seen: list[str] = Field(default_factory=list)
    missing: list[str] = Field(
        default_factory=list,
        description="Paths a runner's processes looked for and did not find, which the run did not create either "
        "(a library on a run path, a module in a nearer node_modules, CTestCustom.cmake): one appearing later "
        "would be loaded or read in the tests' run.",
    )
    resources: dict[str, TestResources] = Field(
        default_factory=dict, description='Test ("": the session before the first test) -> what it held at once.'
    )


def contains(collector: str, test: str) -> bool:
    """Whether the collector with node id ``collector`` collected ``test`` (the session collects all)."""
    return collector == "" or test == collector or test.startswith((collector + "::", collector + "/"))


def parents_of(module: str) -> list[str]:
    """``a.b.c`` -> [``a``, ``a.b``]: importing a submodule runs its packages first."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _file_guarded(context: TestContext, path: str, raising: Raising | None) -> bool:
    """Whether every open of ``path`` in ``context`` catches ``raising`` (the code falls back without it)."""
    if raising is None:
        return False
    stacks = context.file_guards.get(path)
    return bool(stacks) and all(not CATCHERS[raising].isdisjoint(caught) for caught in stacks or ())


class Footprint:
    """Which of ``tests`` use what, from a probe's per-test record."""

    def __init__(self, probe: PerTestProbe, tests: Iterable[str], first_party: Iterable[str] = ()) -> None:
        self.probe = probe
        self.tests = sorted(set(tests))
        self.first_party = set(first_party)
        self._harness: dict[Raising | None, set[str]] = {}
        self._uses: dict[Raising | None, dict[str, dict[UseKind, set[str]]]] = {}
        self._indexes: dict[Raising | None, dict[UseKind, dict[str, frozenset[str]]]] = {}

    @cached_property
    def _contexts_of(self) -> dict[str, list[TestContext]]:
        collectors = [(name, ctx) for name, ctx in self.probe.contexts.items() if name not in self.probe.fixtures]
        by_test: dict[str, list[TestContext]] = {}
        for test in self.tests:
            found = [ctx for name, ctx in collectors if contains(name, test)]
            own = self.probe.contexts.get(test)
            if own is not None and own not in found:
                found.append(own)
            by_test[test] = found
        return by_test

    def _guarded(self, caller: str, module: str, raising: Raising | None) -> bool:
        """Whether ``caller`` catches what importing ``module`` raises, at every statement importing it."""
        if raising is None:
            return False
        sites = self.probe.import_guards.get(caller, {}).get(module, [])
        return bool(sites) and all(not CATCHERS[raising].isdisjoint(caught) for caught in sites)

    def closure(self, imports: Iterable[str], raising: Raising | None = None) -> set[str]:
        """Every module loading ``imports`` needs: parents, and the import graph followed to the end (not
        through imports guarded against ``raising``)."""
        seen: set[str] = set()
        queue = deque(imports)
        while queue:
            module = queue.popleft()
            if module in seen:
                continue
            seen.add(module)
            queue.extend(parents_of(module))
            queue.extend(m for m in self.probe.import_edges.get(module, ()) if not self._guarded(module, m, raising))
        return seen

    def _roots(self, context: TestContext, raising: Raising | None) -> list[str]:
        """A context's imports, less those every calling function guards against ``raising``."""
        if raising is None:
            return list(context.imports)
        callers: dict[str, list[str]] = {}
        for call in context.calls:
            caller, _, name = call.partition(">")
            callers.setdefault(name, []).append(caller)
        return [
            name
            for name in context.imports
            if not (name in callers and all(self._guarded(c, name, raising) for c in callers[name]))
        ]

    def harness(self, raising: Raising | None = None) -> set[str]:
        """What pytest needs: the modules it had loaded before any conftest, and those its own code imports
        later, whichever test happened to be running (a codec for test ids, a lazily loaded helper)."""
        if raising not in self._harness:
            loaded = self.closure(self.probe.harness_modules, raising)
            later = [
                name
                for ctx in self.probe.contexts.values()
                for caller, _, name in (call.partition(">") for call in ctx.calls)
                if caller in loaded
                and caller not in self.first_party
                and caller not in LAUNCHERS
                and not self._guarded(caller, name, raising)
            ]
            self._harness[raising] = loaded | self.closure(later, raising)
        return self._harness[raising]

    def uses(self, raising: Raising | None = None) -> dict[str, dict[UseKind, set[str]]]:
        """test -> kind -> the things it uses (modules and libraries: those whose failure to import, raising
        ``raising``, reaches the test)."""
        if raising in self._uses:
            return self._uses[raising]
        table: dict[str, dict[UseKind, set[str]]] = {}
        linked = {lib for links in self.probe.extension_links.values() for lib in links}
        # Tests of one module share their collectors' contexts: their closure is computed once.
        shared: dict[tuple[int, ...], set[str]] = {}
        for test in self.tests:
            contexts = self._contexts_of[test]
            own = self.probe.contexts.get(test)
            collectors = tuple(id(ctx) for ctx in contexts if ctx is not own)
            if collectors not in shared:
                roots = [n for ctx in contexts if ctx is not own for n in self._roots(ctx, raising)]
                shared[collectors] = self.closure(roots, raising)
            modules = shared[collectors] | (self.closure(self._roots(own, raising), raising) if own else set())
            # With ``raising``, a library an extension module links counts only through the (guard-aware)
            # import closure: the process mapped it because something imported that extension.
            libraries = {lib for ctx in contexts for lib in ctx.libraries if raising is None or lib not in linked}
            for module in modules:
                libraries.update(self.probe.extension_links.get(module, ()))
            table[test] = {
                "modules": modules,
                "libraries": libraries,
                "files": {f for ctx in contexts for f in ctx.files if not _file_guarded(ctx, f, raising)},
                "executables": {e for ctx in contexts for e in ctx.executables},
                "env": {v for ctx in contexts for v in ctx.env},
                "hosts": {h for ctx in contexts for h in ctx.hosts},
                "fixtures": set(self.probe.fixtures.get(test, ())),
                "names": {n for ctx in contexts for n in ctx.names}
                | {n for module in modules for n in self.probe.name_edges.get(module, ())},
                "scratch": {p for ctx in contexts for p in ctx.scratch},
                "functions": {f for ctx in contexts for f in ctx.functions},
            }
        self._uses[raising] = table
        return table

    def _index(self, raising: Raising | None) -> dict[UseKind, dict[str, frozenset[str]]]:
        if raising not in self._indexes:
            index: dict[UseKind, dict[str, set[str]]] = {}
            for test, kinds in self.uses(raising).items():
                for kind, things in kinds.items():
                    bucket = index.setdefault(kind, {})
                    for thing in things:
                        bucket.setdefault(thing, set()).add(test)
            self._indexes[raising] = {
                kind: {thing: frozenset(tests) for thing, tests in things.items()} for kind, things in index.items()
            }
        return self._indexes[raising]

    def tests_using(self, kind: UseKind, thing: str, raising: Raising | None = None) -> frozenset[str]:
        """The tests that use ``thing`` (a module counts with its submodules). With ``raising``, only those a
        failure to import it, raising that exception, reaches."""
        index = self._index(raising)
        if kind != "modules":
            return index.get(kind, {}).get(thing, frozenset())
        found: set[str] = set()
        for name, tests in index.get("modules", {}).items():
            if name == thing or name.startswith(thing + "."):
                found |= tests
        return frozenset(found)

    def tests_using_any(self, kind: UseKind, things: Iterable[str], raising: Raising | None = None) -> frozenset[str]:
        """The tests that use at least one of ``things``."""
        return frozenset().union(*(self.tests_using(kind, thing, raising) for thing in things))

    def tests_launching(self, program: str = "") -> frozenset[str]:
        """The tests that started a program themselves (a subprocess, during the test), whose path contains
        ``program``; the interpreter running pytest, started before any test, does not count."""
        return frozenset(
            test
            for test in self.tests
            if (own := self.probe.contexts.get(test)) is not None and any(program in path for path in own.executables)
        )

    def things(self, kind: UseKind) -> set[str]:
        """Everything of ``kind`` some test uses."""
        return set(self._index(None).get(kind, {}))

    @cached_property
    def direct_imports(self) -> set[str]:
        """Modules the project's own code or its tests import by name (not only some library's internals):
        imports run by the repository's modules and tests (``first_party``), at import time or later."""
        found: set[str] = set()
        for importer, imported in self.probe.import_edges.items():
            if importer in self.first_party:
                found.update(imported)
        for ctx in self.probe.contexts.values():
            for call in ctx.calls:
                caller, _, name = call.partition(">")
                if caller in self.first_party:
                    found.add(name)
        return found

    def is_harness_module(self, name: str, raising: Raising | None = None) -> bool:
        """Whether pytest itself needs the module (breaking it fails every test for pytest's sake)."""
        return name in self.harness(raising)
