"""A pytest plugin for probe runs only (loaded through ``PYTEST_PLUGINS=cligym_probe_tests``): it tells the
probe hook which collector or test is running, so what happens is recorded for that context, and it writes
the time window of each context and the fixtures each test requested.

Contexts are node ids: "" for the session (pytest starting, conftest files at the root), a collector's id
while that file or directory is collected (its module-level imports), a test's id from its setup to its
teardown. A child process inherits the context through ``CLIGYM_PROBE_CONTEXT``.

Runs inside the project's interpreter: standard library and pytest only.
"""

import json
import os
import sys
import time
import types

import pytest

try:
    import cligym_probe_hook as _hook
except ImportError:  # not a probe run
    _hook = None
# A pytest run inside a test (pytester, a CLI's own test runner) belongs to that test: only the outermost
# session switches contexts.
if "CLIGYM_PROBE_CONTEXT" in os.environ:
    _hook = None

_DIR = os.environ.get("CLIGYM_PROBE_DIR")
# What pytest imported before loading this plugin (itself, pluggy, entry-point plugins): the test harness.
# PYTEST_PLUGINS is read after the entry points, before any conftest.
_HARNESS = sorted(sys.modules)
_windows: list = []
_fixtures: dict = {}
_providers: dict = {}


def _switch(name):
    previous = _hook.context
    _hook.context = name
    os.environ["CLIGYM_PROBE_CONTEXT"] = name
    return previous


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    if _hook is None:
        yield
        return
    previous = _switch(collector.nodeid)
    before = _hook.mapped_libraries()
    started = time.time()
    try:
        yield
    finally:
        _windows.append([collector.nodeid, started, time.time(), os.getpid()])
        _note_loaded(collector.nodeid, before)
        # The test module itself: its imports are edges from it, collected once for all its tests.
        module = getattr(collector, "_obj", None)
        if isinstance(module, types.ModuleType):
            _hook.bucket(collector.nodeid)["imports"].add(module.__name__)
        _switch(previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if _hook is None:
        yield
        return
    previous = _switch(item.nodeid)
    before = _hook.mapped_libraries()
    started = time.time()
    try:
        yield
    finally:
        _windows.append([item.nodeid, started, time.time(), os.getpid()])
        _note_loaded(item.nodeid, before)
        _switch(previous)
        _record_fixtures(item)


def pytest_plugin_registered(plugin, manager):
    """A conftest module counts for the context that loaded it (a directory's tests, or all of them)."""
    if not isinstance(plugin, types.ModuleType) or _hook is None:
        return
    if (getattr(plugin, "__file__", None) or "").endswith("conftest.py"):
        _hook.bucket()["imports"].add(plugin.__name__)


def _note_loaded(name, before):
    """Libraries mapped while ``name`` ran (extension modules and what they link, ctypes loads)."""
    loaded = _hook.mapped_libraries() - before
    if loaded:
        _hook.bucket(name)["dlopen"].update(loaded)


def _record_fixtures(item):
    """The fixtures the test requested, and the module defining each (which plugin provides it)."""
    names = list(getattr(item, "fixturenames", []) or [])
    _fixtures[item.nodeid] = names
    info = getattr(item, "_fixtureinfo", None)
    definitions = getattr(info, "name2fixturedefs", {}) or {}
    for name in names:
        if name in _providers or not definitions.get(name):
            continue
        function = getattr(definitions[name][-1], "func", None)
        _providers[name] = getattr(function, "__module__", None)


def pytest_sessionfinish(session, exitstatus):
    if _hook is None or not _DIR:  # xdist workers write their own file: they run the tests
        return
    plugins = sorted({getattr(plugin, "__name__", "") for plugin in session.config.pluginmanager.get_plugins()} - {""})
    with open(os.path.join(_DIR, f"tests-{os.getpid()}.json"), "w") as out:
        json.dump(
            {
                "windows": _windows,
                "fixtures": _fixtures,
                "providers": _providers,
                "plugins": plugins,
                "harness": _HARNESS,
            },
            out,
        )
