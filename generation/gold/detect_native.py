"""How to build a project that is not Python's for testing, from its files alone: a Node.js package's
dependencies from its package.json, a C project's autotools, CMake or Makefile build. Only what the spec
does not say itself: its ``install`` replaces these steps."""

from __future__ import annotations

from pathlib import Path

from cligym.generation.gold.detect import InstallPlan
from cligym.generation.gold.source import SourceTree
from cligym.generation.repo_spec import RepoSpec

JOBS = '-j"$(nproc)"'
# The build host's name CMake records for CTest, fixed so that every build writes the same bytes.
REPRODUCIBLE_SITE = "cligym-build"


def native_install_plan(spec: RepoSpec, source: SourceTree) -> InstallPlan:
    """The plan for a suite read by ``spec.runner`` (not pytest): build system, steps, Debian packages."""
    backend, steps, packages = build_system(source.root)
    return InstallPlan(
        build_backend=backend,
        test_extras=[],
        dependency_groups=[],
        requirement_files=[],
        tox_deps=[],
        framework=spec.runner,
        test_paths=[],
        has_c_extension=backend in ("autotools", "cmake", "make"),
        system_packages=sorted({*source.system_packages, *packages}),
        install_steps=steps,
    )


def build_system(root: Path) -> tuple[str, list[str], list[str]]:
    """(name, shell steps run in the repository, Debian packages they need)."""
    if (root / "package.json").is_file():
        # devDependencies are what the tests run on (tape, mocha, ...); a lock file, when shipped, pins them.
        command = "npm ci" if (root / "package-lock.json").is_file() else "npm install"
        return "npm", [f"{command} --no-audit --no-fund"], ["nodejs", "npm"]
    compilers = ["build-essential"]
    if (root / "configure").is_file():
        return "autotools", ["./configure", f"make {JOBS}"], compilers
    if (root / "configure.ac").is_file() or (root / "configure.in").is_file():
        tools = [*compilers, "autoconf", "automake", "libtool"]
        return "autotools", ["autoreconf -fi", "./configure", f"make {JOBS}"], tools
    if (root / "CMakeLists.txt").is_file():
        # CTest writes the build host's name (SITE) into build/DartConfiguration.tcl, which ctest reads: each
        # build of the exported Dockerfile (Harbor builds it anew) would differ from gold's harness record.
        configure = f"cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSITE={REPRODUCIBLE_SITE}"
        steps = [configure, f"cmake --build build {JOBS}"]
        return "cmake", steps, [*compilers, "cmake"]
    if (root / "Makefile").is_file() or (root / "makefile").is_file():
        return "make", [f"make {JOBS}"], compilers
    return "none", [], []
