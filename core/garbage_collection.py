"""Remove the containers, volumes and images cligym created, found by their labels."""

from __future__ import annotations

from dataclasses import dataclass, field

from docker.errors import APIError, NotFound

from cligym.base_images.debian_bootstrap import ROOTFS_REPOSITORY
from cligym.docker_connection import docker_client
from cligym.labels import ROLE, ROLE_BASE, label_filter


@dataclass
class CollectedGarbage:
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def collect_garbage(run_id: str | None = None, include_base: bool = False) -> CollectedGarbage:
    """Remove everything labelled as ours (only ``run_id``'s objects when given).

    Base images are kept unless ``include_base``: they take minutes to build and belong to no run.
    """
    client = docker_client()
    removed = CollectedGarbage()
    filters = {"label": label_filter(run_id)}
    for container in client.containers.list(all=True, filters=filters):
        try:
            container.remove(force=True, v=True)
            removed.containers.append(container.name)
        except NotFound:
            pass
        except APIError as exc:
            removed.failures.append(f"container {container.name}: {exc.explanation}")
    for volume in client.volumes.list(filters=filters):
        try:
            volume.remove(force=True)
            removed.volumes.append(volume.name)
        except APIError as exc:
            removed.failures.append(f"volume {volume.name}: {exc.explanation}")
    images = [
        image for image in client.images.list(filters=filters) if include_base or image.labels.get(ROLE) != ROLE_BASE
    ]
    if include_base and run_id is None:
        images += client.images.list(name=ROOTFS_REPOSITORY)
    removed.images, failures = _remove_images(images)
    removed.failures += failures
    return removed


def _remove_images(images: list) -> tuple[list[str], list[str]]:
    """Remove images, children before parents: retry the ones that still had dependants until no progress."""
    client = docker_client()
    removed: list[str] = []
    pending = {image.id: image for image in images}
    errors: dict[str, str] = {}
    while pending:
        progressed = False
        for image_id, image in list(pending.items()):
            try:
                client.images.remove(image_id, force=True)
            except NotFound:
                pass
            except APIError as exc:
                errors[image_id] = f"image {(image.tags or [image_id])[0]}: {exc.explanation}"
                continue
            removed.append((image.tags or [image_id[:19]])[0])
            errors.pop(image_id, None)
            del pending[image_id]
            progressed = True
        if not progressed:
            break
    return removed, list(errors.values())
