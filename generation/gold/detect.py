"""Work out how to install and test a Python project from its files alone (a pure function of the tree)."""

from __future__ import annotations

import configparser
import contextlib
import re
import shlex
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

TEST_EXTRA_NAMES = ("test", "tests", "testing")
FALLBACK_EXTRA_NAMES = ("dev",)
TEST_DIR_NAMES = ("tests", "test", "testing")
REQUIREMENT_FILE_PATTERNS = (
    "requirements-test*.txt",
    "requirements_test*.txt",
    "requirements-tests*.txt",
    "test-requirements*.txt",
    "test_requirements*.txt",
    "requirements/test*.txt",
    "requirements/tests*.txt",
    "tests/requirements*.txt",
)
C_EXTENSION_HINTS = re.compile(r"\bext_modules\b|\bExtension\(|cythonize\(|\bCFFI_MODULES\b|\bcffi_modules\b")
NATIVE_BACKENDS = {"mesonpy": "meson-python", "scikit_build_core.build": "scikit-build-core"}


class InstallPlan(BaseModel):
    """What detection found, and the shell steps (run in /repo) that install the project for testing."""

    model_config = ConfigDict(frozen=True)

    build_backend: str
    test_extras: list[str]
    dependency_groups: list[str]
    requirement_files: list[str]
    tox_deps: list[str]
    # Another runner than pytest (the spec's `runner`) for projects that are not Python's.
    framework: Literal["pytest", "unittest", "tap", "junit", "automake"]
    test_paths: list[str]
    has_c_extension: bool
    system_packages: list[str]
    install_steps: list[str]
    # Installed after the steps: what pytest showed missing when the gold tests ran without it.
    discovered_requirements: list[str] = []


def detect_install_plan(root: Path) -> InstallPlan:
    """Detect build backend, test dependencies, test framework and test location of the project at ``root``."""
    pyproject = _read_toml(root / "pyproject.toml")
    setup_cfg = _read_cfg(root / "setup.cfg")
    setup_py = (root / "setup.py").read_text(errors="replace") if (root / "setup.py").is_file() else ""
    backend = _build_backend(pyproject, setup_py)
    extras = _test_extras(pyproject, setup_cfg, setup_py)
    groups = _dependency_groups(pyproject)
    requirement_files = _requirement_files(root)
    tox_deps, tox_requirement_files = _tox_deps(root)
    requirement_files += [f for f in tox_requirement_files if f not in requirement_files]
    has_c = _has_c_extension(root, pyproject, setup_py)
    mentions_pytest = _mentions_pytest(root, pyproject, setup_cfg, setup_py, requirement_files, tox_deps)
    framework: Literal["pytest", "unittest"] = (
        "pytest" if mentions_pytest or not _uses_unittest_only(root) else "unittest"
    )
    steps = ["python -m pip install --upgrade pip"]
    steps += [f"python -m pip install -r {shlex.quote(f)}" for f in requirement_files]
    if tox_deps:
        steps.append("python -m pip install " + " ".join(shlex.quote(d) for d in tox_deps))
    target = "." + (f"[{','.join(extras)}]" if extras else "")
    install = f"python -m pip install -e {shlex.quote(target)}"
    install += "".join(f" --group {shlex.quote(g)}" for g in groups)
    steps.append(install)
    steps.append("python -m pip install pytest")
    return InstallPlan(
        build_backend=backend,
        test_extras=extras,
        dependency_groups=groups,
        requirement_files=requirement_files,
        tox_deps=tox_deps,
        framework=framework,
        test_paths=_test_paths(root, pyproject, setup_cfg),
        has_c_extension=has_c,
        system_packages=["build-essential"] if has_c else [],
        install_steps=steps,
    )


def _read_toml(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(errors="replace"))
    except tomllib.TOMLDecodeError:
        return {}


def _read_cfg(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    if path.is_file():
        with contextlib.suppress(configparser.Error):
            parser.read_string(path.read_text(errors="replace"))
    return parser


def _build_backend(pyproject: dict, setup_py: str) -> str:
    backend = pyproject.get("build-system", {}).get("build-backend")
    if backend:
        return str(backend)
    return "setuptools (setup.py)" if setup_py else "setuptools (implicit)"


def _test_extras(pyproject: dict, setup_cfg: configparser.ConfigParser, setup_py: str) -> list[str]:
    names: list[str] = list(pyproject.get("project", {}).get("optional-dependencies", {}))
    if setup_cfg.has_section("options.extras_require"):
        names += list(setup_cfg["options.extras_require"])
    if "extras_require" in setup_py:
        names += re.findall(r"""["'](\w[\w-]*)["']\s*:""", setup_py.split("extras_require", 1)[1][:2000])
    found = [name for name in TEST_EXTRA_NAMES if name in names]
    return found or [name for name in FALLBACK_EXTRA_NAMES if name in names][:1]


def _dependency_groups(pyproject: dict) -> list[str]:
    groups = pyproject.get("dependency-groups", {})
    found = [name for name in TEST_EXTRA_NAMES if name in groups]
    return found or [name for name in FALLBACK_EXTRA_NAMES if name in groups][:1]


def _requirement_files(root: Path) -> list[str]:
    files: list[str] = []
    for pattern in REQUIREMENT_FILE_PATTERNS:
        for path in sorted(root.glob(pattern)):
            relative = path.relative_to(root).as_posix()
            if path.is_file() and relative not in files:
                files.append(relative)
    return files


_TOX_CONDITION = re.compile(r"^(?P<factors>[\w.!,-]+):\s+(?P<rest>\S.*)$")


def _tox_deps(root: Path) -> tuple[list[str], list[str]]:
    """Plain requirements and ``-r`` files from tox.ini's [testenv] deps (substitutions are skipped). A
    requirement under a factor condition (``unit: pytest``) counts when a command under one of its factors
    runs pytest; negated factors (``!py315t``) name other environments and do not decide."""
    tox = _read_cfg(root / "tox.ini")
    if not tox.has_section("testenv") or "deps" not in tox["testenv"]:
        return [], []
    test_factors: set[str] = set()
    for line in tox["testenv"].get("commands", "").splitlines():
        condition = _TOX_CONDITION.match(line.strip())
        if condition and "pytest" in condition["rest"]:
            test_factors |= _positive_factors(condition["factors"])
    deps: list[str] = []
    files: list[str] = []
    for line in tox["testenv"]["deps"].splitlines():
        line = line.split("#", 1)[0].strip()
        condition = _TOX_CONDITION.match(line)
        if condition:
            if not _positive_factors(condition["factors"]) & test_factors:
                continue
            line = condition["rest"]
        if not line or "{" in line or line in (".", "-e ."):
            continue
        if line.startswith("-r"):
            relative = line[2:].strip()
            if (root / relative).is_file():
                files.append(relative)
        elif not line.startswith("-"):
            deps.append(line)
    return deps, files


def _positive_factors(condition: str) -> set[str]:
    return {f for part in condition.split(",") for f in part.split("-") if f and not f.startswith("!")}


def _has_c_extension(root: Path, pyproject: dict, setup_py: str) -> bool:
    if C_EXTENSION_HINTS.search(setup_py):
        return True
    if pyproject.get("build-system", {}).get("build-backend") in NATIVE_BACKENDS:
        return True
    if pyproject.get("tool", {}).get("setuptools", {}).get("ext-modules"):
        return True
    return any(
        not set(path.relative_to(root).parts) & {"tests", "test", "docs", "doc", "benchmarks", "examples"}
        for path in root.rglob("*.pyx")
    )


def _mentions_pytest(
    root: Path,
    pyproject: dict,
    setup_cfg: configparser.ConfigParser,
    setup_py: str,
    requirement_files: list[str],
    tox_deps: list[str],
) -> bool:
    if "pytest" in pyproject.get("tool", {}) or (root / "pytest.ini").is_file():
        return True
    if setup_cfg.has_section("tool:pytest") or any(root.glob("**/conftest.py")):
        return True
    texts = [str(pyproject.get("project", {}).get("optional-dependencies", {})), setup_py, " ".join(tox_deps)]
    texts += [(root / f).read_text(errors="replace") for f in requirement_files]
    tox_ini = root / "tox.ini"
    if tox_ini.is_file():
        texts.append(tox_ini.read_text(errors="replace"))
    return any("pytest" in text for text in texts)


def _uses_unittest_only(root: Path) -> bool:
    return any("import unittest" in path.read_text(errors="replace") for path in list(root.rglob("test*.py"))[:200])


def _test_paths(root: Path, pyproject: dict, setup_cfg: configparser.ConfigParser) -> list[str]:
    configured = pyproject.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("testpaths")
    if not configured and setup_cfg.has_option("tool:pytest", "testpaths"):
        configured = setup_cfg.get("tool:pytest", "testpaths").split()
    if not configured:
        pytest_ini = _read_cfg(root / "pytest.ini")
        if pytest_ini.has_option("pytest", "testpaths"):
            configured = pytest_ini.get("pytest", "testpaths").split()
    if configured:
        paths = [configured] if isinstance(configured, str) else list(configured)
        existing = [p for p in paths if (root / p).exists()]
        if existing:
            return existing
    for name in TEST_DIR_NAMES:
        if (root / name).is_dir():
            return [name]
    nested = sorted(
        path.relative_to(root).as_posix()
        for path in root.glob("*/tests")
        if path.is_dir() and any(path.glob("test*.py"))
    )
    if nested:
        return nested
    return sorted(p.name for p in root.glob("test_*.py"))
