"""Shared fixtures. Docker tests need a running daemon: CI starts one (scripts/setup.sh); a missing daemon
fails these tests loudly instead of skipping them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from cligym.base_images import BaseImage, ensure_base_image
from cligym.docker_connection import docker_client
from cligym.garbage_collection import collect_garbage
from cligym.settings import load_settings


@pytest.fixture(scope="session")
def base_image() -> BaseImage:
    """The configured base image, as `cligym base build` makes it (cached per machine)."""
    docker_client()
    return ensure_base_image(load_settings().base_image)


@pytest.fixture
def run_id() -> Iterator[str]:
    """A run id unique to the test; everything labelled with it is removed afterwards."""
    rid = f"test-{uuid.uuid4().hex[:8]}"
    yield rid
    collect_garbage(run_id=rid)


def containers_named(name: str) -> list:
    return docker_client().containers.list(all=True, filters={"name": f"^/{name}$"})
