"""A prebuilt image as the source of a gold environment (a SWE-bench or SWE-smith instance image): the image is
found locally or pulled once, and the repository is read out of it, so detection and the fingerprint of the
tracked files work as for any other source. The image itself is never rebuilt or changed."""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.images import Image

from cligym.docker_connection import docker_client
from cligym.errors import ConfigError
from cligym.generation.repo_spec import ImageSource
from cligym.labels import ROLE_SANDBOX, cligym_labels

_FIX = "docker pull or docker load the image on this machine, or fix source.image in the repo spec"


def ensure_source_image(reference: str) -> Image:
    """The source image, pulled when it is not on this machine; a ConfigError says why when neither works."""
    client = docker_client()
    try:
        return client.images.get(reference)
    except ImageNotFound:
        pass
    try:
        return client.images.pull(reference)
    except (APIError, DockerException) as exc:
        reason = getattr(exc, "explanation", None) or str(exc)
        message = f"source image {reference} is not on this machine and cannot be pulled: {reason}"
        raise ConfigError(message, _FIX) from None


def copy_repository_out(source: ImageSource, target: Path) -> str:
    """Copy ``source.repo_path`` out of the image into ``target`` (which must not exist), from a container
    that is created and never started: nothing of the image runs on the host or in a container. Returns the
    image's id (``sha256:...``), which the gold record and the image tag are keyed on."""
    image = ensure_source_image(source.image)
    container = docker_client().containers.create(image.id, command=["true"], labels=cligym_labels(ROLE_SANDBOX))
    try:
        try:
            stream, _ = container.get_archive(source.repo_path)
        except NotFound:
            raise ConfigError(
                f"source image {source.image} has no {source.repo_path}",
                "set source.repo_path to where the repository is in the image (SWE-bench images: /testbed)",
            ) from None
        data = b"".join(stream)
    finally:
        container.remove(force=True)
    with tempfile.TemporaryDirectory(prefix="cligym-image-") as tmp, tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(tmp, filter=_inside_only)
        top = Path(tmp) / PurePosixPath(source.repo_path).name
        if not top.is_dir():
            raise ConfigError(f"{source.repo_path} in {source.image} is not a directory", "fix source.repo_path")
        top.rename(target)
    return str(image.id)


def _inside_only(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    """Tar's "data" filter, member by member: a link leaving the repository or a device file is skipped
    rather than failing the copy (neither is the project's source)."""
    if not (member.isfile() or member.isdir() or member.issym()):
        return None
    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        return None
