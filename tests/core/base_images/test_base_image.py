"""Base image resolution against the real daemon: present, fallback build, CA layer."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cligym.base_images import BaseImage, ensure_base_image
from cligym.base_images.ca_layer import CA_ENV_VARS, CA_PATH_IN_IMAGE
from cligym.docker_connection import docker_client
from cligym.sandbox import Sandbox
from cligym.settings import BaseImageSettings

pytestmark = pytest.mark.docker

HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def test_present_image_is_used_as_is(base_image: BaseImage) -> None:
    again = ensure_base_image(BaseImageSettings(name=base_image.configured_name, extra_ca_bundle=None))
    assert again.origin == "present"
    assert again.reference == base_image.configured_name


@pytest.mark.slow
def test_unpullable_image_falls_back_to_a_local_build_under_the_configured_name(base_image: BaseImage) -> None:
    name = f"registry.invalid:5000/cligym-test/python:3.11-slim-{uuid.uuid4().hex[:6]}"
    messages: list[str] = []
    try:
        built = ensure_base_image(BaseImageSettings(name=name, extra_ca_bundle=None), progress=messages.append)
        assert built.origin == "built"
        assert any(message.startswith(f"cannot pull {name}") for message in messages)
        assert name in docker_client().images.get(name).tags
        with Sandbox(name) as box:
            result = box.exec("python --version && pip --version && git --version && python3 -m venv /tmp/v")
        assert result.ok, result
        assert result.stdout.startswith("Python 3.11")
    finally:
        docker_client().images.remove(name, noprune=True)


def test_extra_ca_bundle_is_copied_in_and_named_by_the_tls_variables(base_image: BaseImage, tmp_path: Path) -> None:
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_bytes(HOST_BUNDLE.read_bytes() + b"\n# cligym test bundle\n")
    resolved = ensure_base_image(BaseImageSettings(name=base_image.configured_name, extra_ca_bundle=str(bundle)))
    assert resolved.reference.startswith("cligym/base-ca:") and resolved.ca_bundle == bundle
    try:
        with Sandbox(resolved.reference) as box:
            assert box.read_file(CA_PATH_IN_IMAGE) == bundle.read_bytes()
            env = dict(line.split("=", 1) for line in box.exec("env").stdout.splitlines() if "=" in line)
        assert all(env[var] == CA_PATH_IN_IMAGE for var in CA_ENV_VARS)
    finally:
        docker_client().images.remove(resolved.reference)


def test_python_version_mismatch_of_the_fallback_is_reported() -> None:
    from cligym.base_images.resolve import _python_version_warnings

    assert _python_version_warnings(BaseImageSettings(name="python:3.12-slim", debian_suite="bookworm"))
    assert not _python_version_warnings(BaseImageSettings(name="python:3.11-slim", debian_suite="bookworm"))
    assert not _python_version_warnings(BaseImageSettings(name="my/python:3.13", debian_suite="trixie"))
