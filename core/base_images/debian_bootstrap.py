"""Build a Debian root file system image locally (debootstrap + docker import) for machines without a registry."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from docker.errors import APIError, ImageNotFound

from cligym.docker_connection import docker_client
from cligym.errors import BaseImageError

ROOTFS_REPOSITORY = "cligym/debian-rootfs"

ProgressCallback = Callable[[str], None]


def rootfs_image_tag(suite: str) -> str:
    return f"{ROOTFS_REPOSITORY}:{suite}"


def ensure_debian_rootfs(suite: str, mirror: str, progress: ProgressCallback, rebuild: bool = False) -> str:
    """Return the tag of a minimal Debian ``suite`` image, bootstrapping it on the host if it is missing.

    debootstrap must run as root on the host; it only writes inside a fresh temporary directory.
    """
    tag = rootfs_image_tag(suite)
    client = docker_client()
    if not rebuild:
        try:
            client.images.get(tag)
            progress(f"Debian {suite} root file system image {tag} already present")
            return tag
        except ImageNotFound:
            pass
    _check_can_bootstrap()
    work_dir = Path(tempfile.mkdtemp(prefix=f"cligym-debootstrap-{suite}-"))
    try:
        rootfs = work_dir / "rootfs"
        progress(f"debootstrap --variant=minbase {suite} from {mirror} (about a minute)")
        _run_logged(["debootstrap", "--variant=minbase", suite, str(rootfs), mirror], "debootstrap")
        tarball = work_dir / "rootfs.tar"
        progress(f"packing the root file system and importing it as {tag}")
        _run_logged(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."], "tar")
        repository, _, image_tag = tag.partition(":")
        try:
            client.api.import_image_from_file(str(tarball), repository=repository, tag=image_tag)
        except APIError as exc:
            raise BaseImageError(f"docker import of the Debian root file system failed: {exc.explanation}") from None
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return tag


def _check_can_bootstrap() -> None:
    if shutil.which("debootstrap") is None:
        raise BaseImageError(
            "the base image cannot be pulled and debootstrap is not installed to build it locally",
            "apt-get install -y debootstrap (scripts/setup.sh does it), or make the image pullable",
        )
    if os.geteuid() != 0:
        raise BaseImageError(
            "building the base image locally needs root (debootstrap creates device nodes and chroots)",
            "run `sudo cligym base build` once, or make the configured base image pullable",
        )


def _run_logged(argv: list[str], what: str) -> None:
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-30:])
        raise BaseImageError(
            f"{what} failed with exit code {completed.returncode}:\n{tail}",
            "check that the Debian mirror in base_image.debian_mirror is reachable",
        )
