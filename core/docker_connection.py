"""One way to reach the Docker daemon, with an error that says how to start it."""

from __future__ import annotations

import functools

import docker
from docker.errors import DockerException

from cligym.errors import DockerUnavailableError

START_DAEMON_HINT = "run scripts/setup.sh (installs docker.io and starts dockerd), or start dockerd yourself"


@functools.cache
def docker_client() -> docker.DockerClient:
    """A client for the daemon named by ``$DOCKER_HOST`` (default: the local socket), checked with a ping."""
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except DockerException as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DockerUnavailableError(f"cannot reach the Docker daemon: {reason}", START_DAEMON_HINT) from None
    return client
