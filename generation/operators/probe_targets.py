"""Targets the probe offers to operators, with the things no operator should aim at filtered out."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import Target

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


def breakable_libraries(gold: GoldRecord) -> list[Target]:
    """Probed shared libraries owned by a Debian package that repair tools do not need."""
    return [
        Target(kind="shared_library", path=lib.path, debian_package=lib.package)
        for lib in gold.probe.shared_libraries
        if lib.package and lib.package not in REPAIR_CRITICAL_PACKAGES and not lib.path.startswith(gold.repo_path)
    ]


def soname_link(path: str) -> str | None:
    """``/usr/lib/x/libsqlite3.so.0.8.6`` -> ``/usr/lib/x/libsqlite3.so.0`` (the name the loader looks up)."""
    match = SONAME.match(PurePosixPath(path).name)
    if not match or match["soname"] == PurePosixPath(path).name:
        return None
    return str(PurePosixPath(path).with_name(match["soname"]))


def imported_distributions(gold: GoldRecord) -> list[Target]:
    """Top-level modules from site-packages distributions the tests import (not the test harness)."""
    targets: dict[str, Target] = {}
    for module in gold.probe.modules:
        if module.origin != "site-packages" or not module.distribution or not module.file:
            continue
        if module.distribution.lower() in TEST_INFRASTRUCTURE or module.name.startswith("_"):
            continue
        if "." in module.name or module.name in targets:
            continue
        targets[module.name] = Target(
            kind="module",
            name=module.name,
            path=module.file,
            distribution=module.distribution,
            version=module.distribution_version,
        )
    return list(targets.values())


def imported_stdlib_modules(gold: GoldRecord) -> list[Target]:
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
        Target(kind="module", name=module.name, path=module.file)
        for module in gold.probe.modules
        if module.origin == "stdlib" and module.name in interesting and module.file
    ]


def packaged_files(gold: GoldRecord) -> list[Target]:
    """Probed data and configuration files that a Debian package installs."""
    return [
        Target(kind="file", path=file.path, debian_package=file.package)
        for file in gold.probe.files
        if file.package and not file.path.startswith(("/etc/ld.so", "/usr/lib/locale/"))
    ]


def packaged_executables(gold: GoldRecord) -> list[Target]:
    """Probed programs that a Debian package installs, other than the shell and the interpreter."""
    core = {"sh", "bash", "dash", "python", "python3", "python3.11", "env"}
    return [
        Target(kind="executable", path=exe.path, debian_package=exe.package)
        for exe in gold.probe.executables
        if exe.package and PurePosixPath(exe.path).name not in core
    ]
