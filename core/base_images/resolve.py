"""Find, pull or build the base image every gold environment starts FROM."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from docker.errors import APIError, ImageNotFound

from cligym.base_images.ca_layer import ensure_ca_layer
from cligym.base_images.debian_bootstrap import ProgressCallback, ensure_debian_rootfs
from cligym.docker_connection import docker_client
from cligym.image_build import build_image
from cligym.labels import ROLE_BASE, cligym_labels
from cligym.settings import BaseImageSettings

Origin = Literal["present", "pulled", "built"]
# Python shipped by each Debian suite; a local fallback for python:3.12-slim on bookworm gives 3.11.
DEBIAN_PYTHON = {"bullseye": "3.9", "bookworm": "3.11", "trixie": "3.13"}


@dataclass(frozen=True)
class BaseImage:
    """The image gold builds use as FROM (``reference``) and how it was obtained."""

    configured_name: str
    reference: str
    image_id: str
    origin: Origin
    ca_bundle: Path | None
    warnings: tuple[str, ...] = ()


def _quiet(_: str) -> None:
    pass


def ensure_base_image(
    settings: BaseImageSettings, progress: ProgressCallback = _quiet, rebuild: bool = False
) -> BaseImage:
    """Use the configured base image if present, else pull it, else build a local equivalent under its name.

    With an extra CA bundle configured, the returned reference is a thin layer on top that trusts it.
    ``rebuild`` skips the first two steps and rebuilds the local equivalent (the Debian root file system
    image is reused when present).
    """
    client = docker_client()
    name = settings.name
    origin: Origin | None = None
    warnings: list[str] = []
    if not rebuild:
        try:
            client.images.get(name)
            origin = "present"
            progress(f"base image {name} is present")
        except ImageNotFound:
            origin = _try_pull(name, progress)
    if origin is None:
        warnings += _build_local_equivalent(settings, progress, rebuild)
        origin = "built"
    reference = name
    bundle = settings.resolved_ca_bundle()
    if bundle is not None:
        progress(f"adding the CA bundle {bundle} on top of {name}")
        reference = ensure_ca_layer(name, bundle)
    return BaseImage(
        configured_name=name,
        reference=reference,
        image_id=str(client.images.get(reference).id),
        origin=origin,
        ca_bundle=bundle,
        warnings=tuple(warnings),
    )


def _try_pull(name: str, progress: ProgressCallback) -> Origin | None:
    repository, tag = _split_reference(name)
    progress(f"pulling {name}")
    try:
        docker_client().images.pull(repository, tag=tag)
    except APIError as exc:
        reason = (exc.explanation or str(exc)).splitlines()[0]
        progress(f"cannot pull {name} ({reason}); building a local equivalent instead")
        return None
    return "pulled"


def _split_reference(name: str) -> tuple[str, str]:
    # The last ':' separates the tag only if it comes after the last '/' (a registry may carry a port).
    if "@" in name:
        repository, _, digest = name.partition("@")
        return repository, digest
    head, sep, tail = name.rpartition(":")
    if sep and "/" not in tail:
        return head, tail
    return name, "latest"


def _build_local_equivalent(settings: BaseImageSettings, progress: ProgressCallback, rebuild: bool) -> list[str]:
    rootfs_tag = ensure_debian_rootfs(settings.debian_suite, settings.debian_mirror, progress)
    context = Path(tempfile.mkdtemp(prefix="cligym-base-"))
    try:
        dockerfile = resources.files("cligym.base_images").joinpath("python.Dockerfile").read_text()
        (context / "Dockerfile").write_text(dockerfile)
        progress(f"installing python3, pip, venv and git on {rootfs_tag} as {settings.name}")
        build_image(
            context,
            settings.name,
            labels=cligym_labels(ROLE_BASE),
            build_args={"ROOTFS": rootfs_tag},
            no_cache=rebuild,
        )
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return _python_version_warnings(settings)


def _python_version_warnings(settings: BaseImageSettings) -> list[str]:
    wanted = re.match(r"(?:.*/)?python:(\d+\.\d+)", settings.name)
    provided = DEBIAN_PYTHON.get(settings.debian_suite)
    if wanted and provided and wanted.group(1) != provided:
        return [
            f"{settings.name} asks for Python {wanted.group(1)} but Debian {settings.debian_suite} "
            f"provides {provided}; set base_image.debian_suite to match, or make the image pullable"
        ]
    return []
