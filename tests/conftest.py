"""Shared fixtures. Docker tests need a running daemon: CI starts one (scripts/setup.sh); a missing daemon
fails these tests loudly instead of skipping them."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from cligym.base_images import BaseImage, ensure_base_image
from cligym.docker_connection import docker_client
from cligym.garbage_collection import collect_garbage
from cligym.model_server import free_port
from cligym.settings import load_settings
from tests import background


def pytest_collection_finish(session: pytest.Session) -> None:
    background.start_for(item.nodeid for item in session.items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    background.stop_all()


@pytest.fixture(scope="session")
def base_image() -> BaseImage:
    """The configured base image, as `cligym base build` makes it (cached per machine)."""
    docker_client()
    return ensure_base_image(load_settings().base_image)


HARBOR_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cligym" / "harbor-venv-py3.12"


@pytest.fixture(scope="session")
def harbor_python() -> Path:
    """The Python of the real Harbor client from PyPI, in a venv on Python 3.12 cached per machine: Harbor needs
    >= 3.12, and 3.12 is the oldest it supports, so what passes here passes on the versions users run."""
    python = HARBOR_VENV / "bin" / "python"
    config = HARBOR_VENV / "pyvenv.cfg"
    # An interrupted install leaves no `harbor` script; an upgraded pyenv leaves another version: rebuild.
    ready = (HARBOR_VENV / "bin" / "harbor").exists() and "version = 3.12." in config.read_text()
    if not ready:
        pythons = sorted(glob.glob("/root/.pyenv/versions/3.12*/bin/python")) or sorted(
            glob.glob("/usr/bin/python3.12")
        )
        assert pythons, "Harbor's checks run on Python 3.12; none found (pyenv provides one on this machine)"
        subprocess.run([pythons[-1], "-m", "venv", "--clear", str(HARBOR_VENV)], check=True)
        subprocess.run([str(HARBOR_VENV / "bin" / "pip"), "install", "-q", "harbor"], check=True)
    return python


@pytest.fixture
def run_id() -> Iterator[str]:
    """A run id unique to the test; everything labelled with it is removed afterwards."""
    rid = f"test-{uuid.uuid4().hex[:8]}"
    yield rid
    collect_garbage(run_id=rid)


def containers_named(name: str) -> list:
    return docker_client().containers.list(all=True, filters={"name": f"^/{name}$"})


@pytest.fixture(scope="session")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real image registry (the CNCF distribution registry, Debian's ``docker-registry``; scripts/setup.sh
    --dev installs it) on 127.0.0.1, which the Docker daemon pushes to and pulls from without TLS. Yields its
    ``host:port``."""
    binary = shutil.which("docker-registry")
    assert binary, "docker-registry is not installed: run `bash scripts/setup.sh --dev`"
    root = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{free_port()}"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'storage'}\n"
        f"http:\n  addr: {address}\n"
    )
    log = (root / "registry.log").open("w")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (root / "registry.log").read_text()
            with contextlib.suppress(OSError), urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as answer:
                if answer.status == 200:
                    break
            assert time.monotonic() < deadline, "the registry did not answer on /v2/ in 30 s"
            time.sleep(0.2)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# What the registry's manifest endpoint may answer with: Docker's schema 2 or OCI.
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json")


def registry_api(address: str, path: str) -> dict[str, Any]:
    """GET ``http://ADDRESS/v2/PATH`` of a registry (``NAME/tags/list``, ``NAME/manifests/TAG``) as JSON."""
    request = urllib.request.Request(f"http://{address}/v2/{path}", headers={"Accept": ", ".join(MANIFEST_TYPES)})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return cast(dict[str, Any], json.load(answer))
