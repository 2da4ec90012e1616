"""Repairs an engineer would run, shared by the operators: reinstall what owns the broken thing."""

from __future__ import annotations

import shlex

from cligym.generation.operators.base import ExecutableTarget, Installed, SharedLibraryTarget

APT_INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get install -y"


def reinstall(package: str) -> list[str]:
    return ["apt-get update", f"{APT_INSTALL} --reinstall {shlex.quote(package)}"]


def reinstall_restoring_conffiles(package: str) -> list[str]:
    # --force-confmiss: a deleted configuration file is put back, which a plain reinstall does not do.
    return ["apt-get update", f"{APT_INSTALL} --reinstall -o Dpkg::Options::=--force-confmiss {shlex.quote(package)}"]


def pip_reinstall(target: Installed) -> list[str]:
    """The distribution at the version the gold environment had."""
    return [f"python -m pip install --force-reinstall --no-deps {shlex.quote(target.pinned())}"]


def reinstall_owner(target: SharedLibraryTarget | ExecutableTarget) -> list[str]:
    """dpkg's package when there is one, else pip's distribution."""
    if target.debian_package:
        return reinstall(target.debian_package)
    return pip_reinstall(target)
