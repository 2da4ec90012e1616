"""A pytest plugin (loaded with ``-p cligym_pytest_report``) that writes every test's exact node id and
status as JSON when the session ends. JUnit XML loses node ids for custom items (PyYAML's data-driven
tests, mypy plugin YAML cases), so this report is what verdicts are computed from.

Runs inside the project's interpreter: standard library only, no import of pytest at module level.
"""

import json
import os
import sys

_REPORT = os.environ.get("CLIGYM_PYTEST_REPORT")
# pytest loads a module's rewritten code from its cache whenever the header holds the source's hash (pytest 9)
# or mtime and size: anyone can plant one for a test module, a conftest or a plugin loaded after this one.
# Loaded first (-p), this plugin makes pytest rewrite every one of them afresh in this run.
_rewrite = sys.modules.get("_pytest.assertion.rewrite")
if _rewrite is not None and hasattr(_rewrite, "_read_pyc"):
    _rewrite._read_pyc = lambda *args, **kwargs: None  # type: ignore[attr-defined]
_SEVERITY = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
_results: dict = {}
# How pytest was set up in this session (rootdir, configuration file, plugins loaded from entry points), so
# later runs can be pinned to the same and nothing an agent installs or drops above the repository counts.
_setup: dict = {}


def _record(nodeid: str, status: str, duration: float, message: str) -> None:
    previous = _results.get(nodeid)
    total = duration + (previous["duration_s"] if previous else 0.0)
    if previous is None or _SEVERITY[status] > _SEVERITY[previous["status"]]:
        # The end of a failure report holds the exception ("E   ..." lines); keep that part.
        _results[nodeid] = {"status": status, "duration_s": total, "message": message[-2000:]}
    else:
        previous["duration_s"] = total


def _message(report) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    return getattr(report, "longreprtext", "") or ""


def pytest_configure(config) -> None:
    try:
        rootdir = getattr(config, "rootpath", None) or config.rootdir
        inifile = getattr(config, "inipath", None) or getattr(config, "inifile", None)
        loaded = config.pluginmanager.list_plugin_distinfo()
        plugins = sorted({getattr(plugin, "__name__", "") for plugin, _ in loaded} - {""})
        _setup.update(rootdir=str(rootdir), inifile=str(inifile) if inifile else None, plugins=plugins)
    except Exception:  # an old or unusual pytest: the runs are then not pinned
        _setup.clear()


def pytest_runtest_logreport(report) -> None:
    if report.when == "call":
        status = "passed" if report.passed else "skipped" if report.skipped else "failed"
    else:  # an error in setup or teardown is the test's error, whatever its call did
        status = "error" if report.failed else "skipped" if report.skipped else "passed"
    _record(report.nodeid, status, float(getattr(report, "duration", 0.0) or 0.0), _message(report))


def pytest_collectreport(report) -> None:
    if report.failed:
        _record(report.nodeid or "<collection>", "error", 0.0, _message(report))


def pytest_sessionfinish(session, exitstatus) -> None:
    if not _REPORT or hasattr(session.config, "workerinput"):  # xdist workers: the controller reports
        return
    os.makedirs(os.path.dirname(_REPORT) or ".", exist_ok=True)
    partial = _REPORT + ".partial"
    with open(partial, "w") as out:
        json.dump({"exitstatus": int(exitstatus), "tests": _results, "setup": _setup or None}, out)
    os.replace(partial, _REPORT)
