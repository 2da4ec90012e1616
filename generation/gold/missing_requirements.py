"""Test dependencies a project never declared where we look (a Poetry dev group, a nox session, a CI file),
read off what pytest says when it runs without them: an import that is not installed, a command-line option or
a fixture that only a plugin provides. A pure function of pytest's output."""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Import names whose distribution on PyPI is called something else.
DISTRIBUTION_OF_MODULE = {
    "attr": "attrs",
    "bs4": "beautifulsoup4",
    "cv2": "opencv-python-headless",
    "dateutil": "python-dateutil",
    "dns": "dnspython",
    "Crypto": "pycryptodome",
    "fitz": "pymupdf",
    "gi": "PyGObject",
    "google.protobuf": "protobuf",
    "jwt": "PyJWT",
    "magic": "python-magic",
    "OpenSSL": "pyOpenSSL",
    "PIL": "Pillow",
    "pkg_resources": "setuptools",
    "serial": "pyserial",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "slugify": "python-slugify",
    "yaml": "PyYAML",
    "zmq": "pyzmq",
}
# Fixtures that pytest itself lacks, by the plugin that provides them.
PLUGIN_OF_FIXTURE = {
    "mocker": "pytest-mock",
    "benchmark": "pytest-benchmark",
    "httpserver": "pytest-httpserver",
    "freezer": "pytest-freezer",
    "requests_mock": "requests-mock",
    "snapshot": "syrupy",
    "datadir": "pytest-datadir",
    "shared_datadir": "pytest-datadir",
    "subtests": "pytest-subtests",
    "time_machine": "time-machine",
    "httpx_mock": "pytest-httpx",
    "respx_mock": "respx",
    "event_loop": "pytest-asyncio",
    "aiohttp_client": "pytest-aiohttp",
    "lazy_fixture": "pytest-lazy-fixture",
    "virtualenv": "pytest-virtualenv",
    "xprocess": "pytest-xprocess",
}
# Command-line options (from a config file's addopts) by the plugin that adds them.
PLUGIN_OF_OPTION = {
    "--cov": "pytest-cov",
    "--timeout": "pytest-timeout",
    "-n": "pytest-xdist",
    "--numprocesses": "pytest-xdist",
    "--benchmark": "pytest-benchmark",
    "--doctest-plus": "pytest-doctestplus",
    "--mypy": "pytest-mypy",
    "--flake8": "pytest-flake8",
    "--reruns": "pytest-rerunfailures",
    "--randomly": "pytest-randomly",
    "--hypothesis": "hypothesis",
    "--asyncio-mode": "pytest-asyncio",
}

_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")
_MISSING_FIXTURE = re.compile(r"fixture '(\w+)' not found")
_UNRECOGNIZED = re.compile(r"error: unrecognized arguments: (.+)")
_ASYNC_UNSUPPORTED = re.compile(r"async def functions are not natively supported")
_UNKNOWN_MARK_OR_OPTION = re.compile(r"Unknown config option: asyncio_mode")
# A suite written for an older pytest than the newest: a hook argument a major release removed (`path` in
# `pytest_collect_file`, gone in 9), a name pytest no longer exports, a deprecation the suite's config makes an
# error. Only read when collection failed: the same words in a passing run's warnings summary ask for nothing.
_PYTEST_TOO_NEW = re.compile(
    r"are declared in the hookimpl but can not be found in the hookspec"
    r"|PytestRemovedIn\d+Warning"
    r"|AttributeError: module 'pytest' has no attribute"
    r"|ImportError: cannot import name '\w+' from '_?pytest"
)
_COLLECTION_FAILED = re.compile(
    r"errors? during collection|ERROR collecting|ImportError while loading conftest|INTERNALERROR|PluginValidationError"
)
_PYTEST_CEILING = re.compile(r"pytest<(\d+)")
# Below this no release reads today's Python 3.11 configuration reliably; the build reports the failure instead.
OLDEST_PYTEST_MAJOR = 6


def missing_requirements(output: str, project_modules: set[str]) -> list[str]:
    """Pip requirements pytest's ``output`` shows missing, in first-seen order. Modules of the project itself
    (``project_modules``: its top-level import names) and of the standard library are never requirements:
    those failures are the project's own, not a dependency we failed to install."""
    found: list[str] = []

    def add(requirement: str) -> None:
        if requirement not in found:
            found.append(requirement)

    for name in _MISSING_MODULE.findall(output):
        top = name.split(".")[0]
        if top in project_modules or top in sys.stdlib_module_names or top.startswith("_"):
            continue
        add(DISTRIBUTION_OF_MODULE.get(name) or DISTRIBUTION_OF_MODULE.get(top) or top.replace("_", "-"))
    for fixture in _MISSING_FIXTURE.findall(output):
        if fixture in PLUGIN_OF_FIXTURE:
            add(PLUGIN_OF_FIXTURE[fixture])
    for arguments in _UNRECOGNIZED.findall(output):
        for argument in arguments.split():
            option = argument.split("=", 1)[0]
            plugin = PLUGIN_OF_OPTION.get(option) or next(
                (p for prefix, p in PLUGIN_OF_OPTION.items() if prefix.startswith("--") and option.startswith(prefix)),
                None,
            )
            if plugin:
                add(plugin)
    if _ASYNC_UNSUPPORTED.search(output) or _UNKNOWN_MARK_OR_OPTION.search(output):
        add("pytest-asyncio")
    return found


def older_pytest(collect_output: str, collected: int, installed_major: int, known: list[str]) -> str | None:
    """``pytest<N`` when collection failed on pytest's own API as an older release had it: one major below the
    release installed, or below the last ceiling already tried (``known``), down to ``OLDEST_PYTEST_MAJOR``."""
    if not _PYTEST_TOO_NEW.search(collect_output):
        return None
    if collected and not _COLLECTION_FAILED.search(collect_output):
        return None
    ceilings = [int(match[1]) for requirement in known if (match := _PYTEST_CEILING.fullmatch(requirement))]
    major = min([installed_major, *ceilings])
    return f"pytest<{major}" if major > OLDEST_PYTEST_MAJOR else None


def top_level_modules(root: Path) -> set[str]:
    """Import names the project's tree itself provides: packages and modules at its root and under ``src/``
    (a test directory without ``__init__.py`` counts too, pytest imports from it)."""
    names: set[str] = set()
    for base in (root, root / "src"):
        if not base.is_dir():
            continue
        for entry in base.iterdir():
            if entry.name.startswith("."):
                continue
            if entry.is_dir() and entry.name.isidentifier():
                names.add(entry.name)
            elif entry.suffix == ".py" and entry.stem.isidentifier():
                names.add(entry.stem)
    return names
