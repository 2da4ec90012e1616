"""Targets the probe offers to operators, with the things no operator should aim at filtered out."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import (
    EnvVarTarget,
    ExecutableTarget,
    FileTarget,
    ModuleTarget,
    SharedLibraryTarget,
)

# Libraries that the shell, the interpreter, apt and dpkg need: breaking them leaves no way to repair.
REPAIR_CRITICAL_PACKAGES = {
    "libc6",
    "libgcc-s1",
    "libstdc++6",
    "zlib1g",
    "liblzma5",
    "libbz2-1.0",
    "libzstd1",
    "liblz4-1",
    "libgcrypt20",
    "libgpg-error0",
    "libxxhash0",
    "libudev1",
    "libsystemd0",
    "libselinux1",
    "libpcre2-8-0",
    "libcap2",
    "libmd0",
    "libapt-pkg6.0",
    "libtinfo6",
    "libexpat1",
    "libpython3.11-minimal",
    "libssl3",
    "libcrypt1",
    "libffi8",
    "libuuid1",
    "libacl1",
    "libattr1",
    "libgnutls30",
    "libnettle8",
    "libhogweed6",
    "libgmp10",
    "libidn2-0",
    "libunistring2",
    "libtasn1-6",
    "libp11-kit0",
    "libseccomp2",
    "libdb5.3",
}
# The test harness itself: breaking it makes every test fail for a reason unrelated to the project.
TEST_INFRASTRUCTURE = {"pytest", "pluggy", "iniconfig", "packaging", "pygments", "pip", "setuptools", "wheel"}
SONAME = re.compile(r"^(?P<soname>.+\.so\.\d+)(\.\d+)*$")


def breakable_libraries(gold: GoldRecord) -> list[SharedLibraryTarget]:
    """Probed shared libraries owned by a Debian package that repair tools do not need."""
    return [
        SharedLibraryTarget(path=lib.path, debian_package=lib.package)
        for lib in gold.probe.shared_libraries
        if lib.package and lib.package not in REPAIR_CRITICAL_PACKAGES and not lib.path.startswith(gold.repo_path)
    ]


def soname_link(path: str) -> str | None:
    """``/usr/lib/x/libsqlite3.so.0.8.6`` -> ``/usr/lib/x/libsqlite3.so.0`` (the name the loader looks up)."""
    match = SONAME.match(PurePosixPath(path).name)
    if not match or match["soname"] == PurePosixPath(path).name:
        return None
    return str(PurePosixPath(path).with_name(match["soname"]))


def required_soname_link(target: SharedLibraryTarget) -> str:
    """The soname link of a library its operator chose for having one."""
    link = soname_link(target.path)
    if link is None:
        raise ValueError(f"{target.path}: no soname link names it")
    return link


def imported_distributions(gold: GoldRecord) -> list[ModuleTarget]:
    """Top-level modules from site-packages distributions the tests import (not the test harness)."""
    targets: dict[str, ModuleTarget] = {}
    for module in gold.probe.modules:
        if module.origin != "site-packages" or not module.distribution or not module.file:
            continue
        if module.distribution.lower() in TEST_INFRASTRUCTURE or module.name.startswith("_"):
            continue
        if "." in module.name or module.name in targets:
            continue
        targets[module.name] = ModuleTarget(
            name=module.name,
            path=module.file,
            distribution=module.distribution,
            version=module.distribution_version,
        )
    return list(targets.values())


def imported_stdlib_modules(gold: GoldRecord) -> list[ModuleTarget]:
    """Top-level standard-library modules with a file that the project's own code or tests import."""
    interesting = {
        "sqlite3",
        "gzip",
        "zlib",
        "json",
        "csv",
        "decimal",
        "ssl",
        "hashlib",
        "uuid",
        "locale",
        "zoneinfo",
        "subprocess",
        "tarfile",
        "zipfile",
        "lzma",
        "bz2",
        "xml",
        "email",
        "http",
        "urllib",
        "sqlite3.dbapi2",
        "datetime",
        "calendar",
        "shutil",
        "tempfile",
        "platform",
    }
    return [
        ModuleTarget(name=module.name, path=module.file)
        for module in gold.probe.modules
        if module.origin == "stdlib" and module.name in interesting and module.file
    ]


def packaged_files(gold: GoldRecord) -> list[FileTarget]:
    """Probed data and configuration files that a Debian package installs."""
    return [
        FileTarget(path=file.path, debian_package=file.package)
        for file in gold.probe.files
        if file.package and not file.path.startswith(("/etc/ld.so", "/usr/lib/locale/"))
    ]


def packaged_executables(gold: GoldRecord) -> list[ExecutableTarget]:
    """Probed programs that a Debian package installs, other than the shell and the interpreter."""
    core = {"sh", "bash", "dash", "python", "python3", "python3.11", "env"}
    return [
        ExecutableTarget(path=exe.path, debian_package=exe.package)
        for exe in gold.probe.executables
        if exe.package and PurePosixPath(exe.path).name not in core
    ]


# Variables every process or tool reads; overriding them says nothing about the project under test.
COMMON_ENV_VARS = {
    "PATH", "HOME", "USER", "USERNAME", "LOGNAME", "LNAME", "SHELL", "TERM", "COLUMNS", "LINES", "LANG",
    "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "PWD", "NO_COLOR", "FORCE_COLOR", "PY_COLORS", "CI",
    "REQUEST_METHOD", "SSLKEYLOGFILE", "PYTHONTZPATH", "PYTHONUSERBASE", "PY_IGNORE_IMPORTMISMATCH",
}  # fmt: skip
COMMON_ENV_PREFIXES = ("PYTEST", "PYTHON", "LC_", "_", "SETUPTOOLS", "DEB_", "PIP_", "COV_", "HYPOTHESIS", "CLIGYM")
# Codecs the interpreter needs to start at all (breaking them leaves no Python to repair with).
STARTUP_CODECS = {"encodings", "encodings.aliases", "encodings.utf_8", "encodings.utf_8_sig", "encodings.latin_1"}
TOOLCHAIN_PROGRAMS = re.compile(
    r"^(\w+-linux-gnu-)?(cc|c\+\+|gcc|g\+\+|cpp|ld|ld\.bfd|ld\.gold|as|cc1|cc1plus|collect2)(-\d+)?$"
)
HTTP_CLIENT_MODULES = ("urllib.request", "http.client", "requests", "httpx", "urllib3", "aiohttp")


def project_env_vars(gold: GoldRecord) -> list[EnvVarTarget]:
    """Variables the tests read that are the project's own (not the shell's, Python's or pytest's)."""
    return [
        EnvVarTarget(name=name)
        for name in gold.probe.env_vars
        if name not in COMMON_ENV_VARS and not name.startswith(COMMON_ENV_PREFIXES)
    ]


def zoneinfo_files(gold: GoldRecord) -> list[FileTarget]:
    return [t for t in packaged_files_any(gold) if t.path.startswith("/usr/share/zoneinfo/")]


def packaged_files_any(gold: GoldRecord) -> list[FileTarget]:
    """Every probed file with a Debian owner (packaged_files leaves out loader and locale files)."""
    return [FileTarget(path=f.path, debian_package=f.package) for f in gold.probe.files if f.package]


def probed_file(gold: GoldRecord, *paths: str) -> list[FileTarget]:
    """The first of ``paths`` the tests opened, as a target (empty when they opened none of them)."""
    opened = {f.path: f.package for f in gold.probe.files}
    for path in paths:
        if path in opened:
            return [FileTarget(path=path, debian_package=opened[path])]
    return []


def stdlib_codecs(gold: GoldRecord) -> list[ModuleTarget]:
    """Codec modules of a dpkg-managed standard library that the tests load, other than the start-up ones."""
    return [
        ModuleTarget(name=m.name, path=m.file)
        for m in gold.probe.modules
        if m.origin == "stdlib"
        and m.name.startswith("encodings.")
        and m.name not in STARTUP_CODECS
        and (m.file or "").startswith("/usr/lib/python3")
    ]


def http_client_modules(gold: GoldRecord) -> list[ModuleTarget]:
    names = {m.name for m in gold.probe.modules}
    return [ModuleTarget(name=name) for name in HTTP_CLIENT_MODULES if name in names][:1]


def toolchain_programs(gold: GoldRecord) -> list[ExecutableTarget]:
    """Compilers, assemblers and linkers the tests ran (a test suite that builds extensions)."""
    return [t for t in packaged_executables(gold) if TOOLCHAIN_PROGRAMS.match(PurePosixPath(t.path).name)]


def python_headers(gold: GoldRecord) -> list[FileTarget]:
    return [
        FileTarget(path=f.path, debian_package=f.package)
        for f in gold.probe.files
        if f.package and f.path.endswith("/Python.h")
    ]


def extension_modules(gold: GoldRecord) -> list[SharedLibraryTarget]:
    """Compiled Python extension modules the tests load, with who can reinstall them (dpkg or pip)."""
    by_file = {m.file: m for m in gold.probe.modules if m.file}
    targets: list[SharedLibraryTarget] = []
    for lib in gold.probe.shared_libraries:
        name = PurePosixPath(lib.path).name
        if ".cpython-" not in name or lib.path.startswith(gold.repo_path):
            continue
        module = by_file.get(lib.path)
        if lib.package and lib.package not in REPAIR_CRITICAL_PACKAGES:
            targets.append(SharedLibraryTarget(path=lib.path, debian_package=lib.package))
        elif module and module.distribution and module.distribution_version:
            if module.distribution.lower() in TEST_INFRASTRUCTURE:
                continue
            targets.append(
                SharedLibraryTarget(
                    path=lib.path,
                    name=module.name,
                    distribution=module.distribution,
                    version=module.distribution_version,
                )
            )
    return targets
