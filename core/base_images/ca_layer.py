"""A thin image layer that trusts an extra CA bundle (for TLS-intercepting proxies)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from docker.errors import ImageNotFound

from cligym.docker_connection import docker_client
from cligym.errors import BaseImageError
from cligym.image_build import LogCallback, build_image
from cligym.labels import ROLE_BASE, cligym_labels

CA_LAYER_REPOSITORY = "cligym/base-ca"
CA_PATH_IN_IMAGE = "/usr/local/share/cligym/extra-ca-bundle.pem"
# Every common client's way of being told about extra roots: pip, requests, OpenSSL-based tools, curl,
# git, Node.js. apt over http needs none.
CA_ENV_VARS = (
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
)


def read_pem_bundle(path: Path) -> bytes:
    """The bundle's bytes, checked to hold at least one PEM certificate."""
    data = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise BaseImageError(
            f"{path} holds no PEM certificate",
            "base_image.extra_ca_bundle must name a PEM file such as /etc/ssl/certs/ca-certificates.crt",
        )
    return data


def ca_layer_tag(base_image_id: str, bundle: bytes) -> str:
    digest = hashlib.sha256(base_image_id.encode() + b"\0" + bundle).hexdigest()[:12]
    return f"{CA_LAYER_REPOSITORY}:{digest}"


def ensure_ca_layer(base_reference: str, bundle_path: Path, on_log: LogCallback | None = None) -> str:
    """Return the tag of ``base_reference`` plus the CA bundle, building it when it does not exist yet.

    The tag hashes the base image id and the bundle, so a new base or a new bundle makes a new layer.
    """
    bundle = read_pem_bundle(bundle_path)
    base_id = str(docker_client().images.get(base_reference).id)
    tag = ca_layer_tag(base_id, bundle)
    try:
        docker_client().images.get(tag)
        return tag
    except ImageNotFound:
        pass
    context = Path(tempfile.mkdtemp(prefix="cligym-ca-layer-"))
    try:
        (context / "extra-ca-bundle.pem").write_bytes(bundle)
        env_lines = " \\\n    ".join(f"{var}={CA_PATH_IN_IMAGE}" for var in CA_ENV_VARS)
        (context / "Dockerfile").write_text(
            f"FROM {base_reference}\nCOPY extra-ca-bundle.pem {CA_PATH_IN_IMAGE}\nENV {env_lines}\n"
        )
        labels = cligym_labels(ROLE_BASE) | {"io.cligym.base-of": base_reference}
        build_image(context, tag, labels=labels, on_log=on_log)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return tag
