"""Gold images in a registry the user names, so that exported tasks can start ``FROM`` them instead of
rebuilding the gold environment (many machines, or task images built where the source is not at hand)."""

from __future__ import annotations

import re

from docker.errors import APIError, ImageNotFound

from cligym.docker_connection import docker_client
from cligym.errors import CligymError
from cligym.generation.gold.record import GoldRecord

# host[:port] and optional path, as docker image references spell a registry (lowercase only).
_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")


def gold_image_reference(gold: GoldRecord, registry: str) -> str:
    """``REGISTRY/cligym/gold-NAME:HASH``: the gold image's own name under the registry's."""
    registry = registry.strip().rstrip("/")
    if registry.startswith(("http://", "https://")):
        registry = registry.split("://", 1)[1]
    if not _REGISTRY.match(registry):
        raise CligymError(
            f"{registry!r} is not a registry an image reference can name",
            "give host[:port][/path] in lowercase, e.g. registry.example.com/team",
        )
    return f"{registry}/{gold.image.tag}"


def tag_gold_image(gold: GoldRecord, registry: str) -> str:
    """Tag the local gold image under the registry's name (no network); returns the reference."""
    reference = gold_image_reference(gold, registry)
    repository, tag = reference.rsplit(":", 1)
    try:
        image = docker_client().images.get(gold.image.tag)
    except ImageNotFound:
        raise CligymError(
            f"the gold image {gold.image.tag} is not on this Docker daemon", "rebuild it with `cligym gold SPEC`"
        ) from None
    image.tag(repository, tag)
    return reference


def push_gold_image(gold: GoldRecord, registry: str) -> str:
    """Tag the gold image for ``registry`` and push it; returns the reference exports can start ``FROM``.
    Credentials are the daemon's (``docker login REGISTRY`` beforehand)."""
    reference = tag_gold_image(gold, registry)
    repository, tag = reference.rsplit(":", 1)
    try:
        for chunk in docker_client().api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in chunk or "errorDetail" in chunk:
                message = chunk.get("error") or chunk["errorDetail"].get("message", "")
                raise CligymError(
                    f"pushing {reference} failed: {message.strip()}",
                    f"is the registry reachable from this Docker daemon? credentials: `docker login {registry}`",
                )
    except APIError as exc:
        reason = exc.explanation or str(exc)
        raise CligymError(f"pushing {reference} failed: {reason}", "is the registry reachable?") from None
    return reference
