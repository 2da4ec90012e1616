"""The per-test probe: what each gold test uses, and which tests use a given thing.

The probe records *contexts* (``PerTestProbe.contexts``): the session (""), each collector while it collects
(a test module's imports happen then) and each test from setup to teardown; child processes count for the
context that started them. A test uses everything in its own context, in every collector that contains it
and in the session; its modules are the import closure of what those contexts imported (the import graph's
edges were recorded when each module was first loaded, so a module cached by an earlier test still counts).

``Footprint`` answers the questions operators ask: which gold tests import this module, load this library,
open this file, run this program, read this variable, resolve this host, request this fixture. A target
nobody uses is not a target; the tests that use it are the tests expected to fail.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, Field

UseKind = Literal["modules", "libraries", "files", "executables", "env", "hosts", "fixtures", "names", "scratch"]


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
    harness_modules: list[str] = Field(
        default_factory=list, description="Modules pytest had loaded before any conftest: the test harness."
    )
    fixtures: dict[str, list[str]] = Field(default_factory=dict, description="test -> the fixtures it requested.")
    fixture_providers: dict[str, str] = Field(default_factory=dict, description="fixture -> its defining module.")
    pytest_plugins: list[str] = Field(default_factory=list, description="Plugin modules the gold run loaded.")
    tests_seen: list[str] = Field(default_factory=list)


def contains(collector: str, test: str) -> bool:
    """Whether the collector with node id ``collector`` collected ``test`` (the session collects all)."""
    return collector == "" or test == collector or test.startswith((collector + "::", collector + "/"))


def parents_of(module: str) -> list[str]:
    """``a.b.c`` -> [``a``, ``a.b``]: importing a submodule runs its packages first."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


class Footprint:
    """Which of ``tests`` use what, from a probe's per-test record."""

    def __init__(self, probe: PerTestProbe, tests: Iterable[str], first_party: Iterable[str] = ()) -> None:
        self.probe = probe
        self.tests = sorted(set(tests))
        self.first_party = set(first_party)

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

    def closure(self, imports: Iterable[str]) -> set[str]:
        """Every module loading ``imports`` needs: parents, and the import graph followed to the end."""
        seen: set[str] = set()
        queue = deque(imports)
        while queue:
            module = queue.popleft()
            if module in seen:
                continue
            seen.add(module)
            queue.extend(parents_of(module))
            queue.extend(self.probe.import_edges.get(module, ()))
        return seen

    @cached_property
    def harness(self) -> set[str]:
        return self.closure(self.probe.harness_modules)

    @cached_property
    def uses(self) -> dict[str, dict[UseKind, set[str]]]:
        """test -> kind -> the things it uses."""
        table: dict[str, dict[UseKind, set[str]]] = {}
        # Tests of one module share their collectors' contexts: their closure is computed once.
        shared: dict[tuple[int, ...], set[str]] = {}
        for test in self.tests:
            contexts = self._contexts_of[test]
            own = self.probe.contexts.get(test)
            collectors = tuple(id(ctx) for ctx in contexts if ctx is not own)
            if collectors not in shared:
                shared[collectors] = self.closure(n for ctx in contexts if ctx is not own for n in ctx.imports)
            modules = shared[collectors] | (self.closure(own.imports) if own is not None else set())
            libraries = {lib for ctx in contexts for lib in ctx.libraries}
            for module in modules:
                libraries.update(self.probe.extension_links.get(module, ()))
            table[test] = {
                "modules": modules,
                "libraries": libraries,
                "files": {f for ctx in contexts for f in ctx.files},
                "executables": {e for ctx in contexts for e in ctx.executables},
                "env": {v for ctx in contexts for v in ctx.env},
                "hosts": {h for ctx in contexts for h in ctx.hosts},
                "fixtures": set(self.probe.fixtures.get(test, ())),
                "names": {n for ctx in contexts for n in ctx.names}
                | {n for module in modules for n in self.probe.name_edges.get(module, ())},
                "scratch": {p for ctx in contexts for p in ctx.scratch},
            }
        return table

    @cached_property
    def _index(self) -> dict[UseKind, dict[str, frozenset[str]]]:
        index: dict[UseKind, dict[str, set[str]]] = {}
        for test, kinds in self.uses.items():
            for kind, things in kinds.items():
                bucket = index.setdefault(kind, {})
                for thing in things:
                    bucket.setdefault(thing, set()).add(test)
        return {kind: {thing: frozenset(tests) for thing, tests in things.items()} for kind, things in index.items()}

    def tests_using(self, kind: UseKind, thing: str) -> frozenset[str]:
        """The tests that use ``thing`` (a module counts with its submodules)."""
        if kind != "modules":
            return self._index.get(kind, {}).get(thing, frozenset())
        found: set[str] = set()
        for name, tests in self._index.get("modules", {}).items():
            if name == thing or name.startswith(thing + "."):
                found |= tests
        return frozenset(found)

    def tests_using_any(self, kind: UseKind, things: Iterable[str]) -> frozenset[str]:
        """The tests that use at least one of ``things``."""
        return frozenset().union(*(self.tests_using(kind, thing) for thing in things))

    def things(self, kind: UseKind) -> set[str]:
        """Everything of ``kind`` some test uses."""
        return set(self._index.get(kind, {}))

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

    def is_harness_module(self, name: str) -> bool:
        """Whether pytest itself needs the module (breaking it fails every test for pytest's sake)."""
        return name in self.harness
