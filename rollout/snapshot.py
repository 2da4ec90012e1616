"""The verifier's own copy of what the agent left: the episode's container committed to an image and started
afresh, so nothing the agent left running (a daemon that rewrites the verifier's files, a process whose
leader exited and whose threads live on) exists where the verifier runs, and its harness files read by a
program the agent could not have touched.

That program is the static ``busybox`` of the task image (the base image installs ``busybox-static``), read
from the image itself, not from the agent's file system, and written into the snapshot before it starts:
no shell, dynamic loader or library of the agent's runs before its digests are taken. Docker's diff compares
metadata only on some storage set-ups (an in-place edit that keeps size and mtime is not listed), so the
harness files are hashed whole, not only those the diff names.
"""

from __future__ import annotations

import io
import tarfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from docker.errors import DockerException

from cligym.docker_connection import docker_client
from cligym.errors import SandboxUnavailableError
from cligym.generation.export.task_files import LOADER
from cligym.generation.gold.harness import HarnessManifest
from cligym.labels import ROLE_SANDBOX, SESSION, cligym_labels, current_session
from cligym.sandbox import Sandbox, shutting_down
from cligym.settings import SandboxSettings

BUSYBOX_IN_IMAGE = "/bin/busybox"
HASH_TIMEOUT = 60
UNREADABLE = "(deleted or unreadable)"
_busybox_of_image: dict[str, bytes | None] = {}
_busybox_lock = threading.Lock()


def trusted_busybox(image: str) -> bytes | None:
    """The static busybox binary of ``image`` as the image holds it (None: the image has none)."""
    with _busybox_lock:
        if image in _busybox_of_image:
            return _busybox_of_image[image]
    found: bytes | None = None
    try:
        # Labelled like every container of ours, so `cligym gc` finds it if this process dies before removing it.
        labels = cligym_labels(ROLE_SANDBOX) | {SESSION: current_session()}
        container = docker_client().containers.create(image, command=["true"], labels=labels)
    except DockerException:
        return None
    try:
        stream, _ = container.get_archive(BUSYBOX_IN_IMAGE)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            member = archive.next()
            extracted = archive.extractfile(member) if member is not None and member.isfile() else None
            found = extracted.read() if extracted is not None else None
    except DockerException:
        found = None
    finally:
        container.remove(force=True)
    with _busybox_lock:
        _busybox_of_image[image] = found
    return found


@contextmanager
def verifier_snapshot(box: Sandbox, settings: SandboxSettings) -> Iterator[tuple[Sandbox, str | None]]:
    """A fresh container of ``box``'s file system, nothing of the agent's running in it, and the path of the
    trusted busybox inside it (None when the task image has none: the container then keeps itself alive with
    its own ``sleep``). The container and its image are removed afterwards."""
    if shutting_down():  # a cancelled unit judges nothing more
        raise SandboxUnavailableError("cligym is shutting down (interrupted)")
    busybox = trusted_busybox(box.image)
    image_id = box.commit("cligym/verifier-snapshot", uuid.uuid4().hex[:12])
    hasher = f"/.cligym-{uuid.uuid4().hex}/busybox" if busybox is not None else None

    def install(fresh: Sandbox) -> None:
        if busybox is not None and hasher is not None:
            fresh.write_file(hasher, busybox, mode=0o755)

    fresh = Sandbox(
        image_id,
        run_id=box.run_id,
        settings=settings,
        name_prefix="cligym-verify",
        keepalive_command=[hasher, "sleep", "infinity"] if hasher is not None else None,
        before_start=install,
    )
    try:
        with fresh:
            yield fresh, hasher
    finally:
        with suppress(DockerException):
            docker_client().images.remove(image_id, force=True)


def content_differences(box: Sandbox, hasher: str, manifest: HarnessManifest) -> list[str]:
    """Harness files whose bytes are not gold's, and library names (the links the loader follows) that no
    longer lead to gold's bytes, read by ``hasher``."""
    gold = {**manifest.own_files, **manifest.files}
    expected = dict(gold)
    for name, target in manifest.library_links.items():
        if target in gold:
            expected.setdefault(name, gold[target])
    paths = sorted(expected)
    if not paths:
        return []
    digests = {}
    # Regular files only ([ -f ] follows links): a FIFO or a device at a harness path would block a read.
    script = 'for p in "$@"; do [ -f "$p" ] && "$0" sha256sum "$p"; done'
    for line in _run(box, [hasher, "sh", "-c", script, hasher, *paths], hasher).splitlines():
        digest, _, path = line.partition("  ")
        digests[path] = digest
    found = []
    for path in paths:
        if path not in digests:
            found.append(f"{path} (deleted or unreadable)")
        elif digests[path] != expected[path]:
            found.append(f"{path} (modified)" if path in gold else f"{path} (leads to other bytes than gold's)")
    if not found:
        found += _resolution_differences(box, hasher, manifest)
    return found


def _resolution_differences(box: Sandbox, hasher: str, manifest: HarnessManifest) -> list[str]:
    """Libraries the dynamic loader (gold's bytes, checked above) now resolves for the interpreter, a program
    of the verifier's shell or a shared object the gold session loaded to a file gold's did not: a private
    ``ldconfig`` cache changes no name."""
    known = set(manifest.library_links)
    if not known:
        return []
    objects = [*manifest.programs(), *manifest.shared_objects()]
    script = "".join(f"echo '== {p}'; {LOADER} --list '{p}'; " for p in objects if "'" not in p)
    found, program = [], ""
    for line in _run(box, [hasher, "sh", "-c", script], hasher).splitlines():
        if line.startswith("== "):
            program = line[3:]
        elif "=>" in line:
            path = line.split("=>", 1)[1].split()[0] if line.split("=>", 1)[1].split() else ""
            if path not in known:
                found.append(f"{path or line.strip()} (what the loader now loads for {program})")
    return found


def _run(box: Sandbox, argv: list[str], hasher: str) -> str:
    """``argv`` run directly (no shell of the agent's), killed after ``HASH_TIMEOUT`` seconds by busybox's
    timeout (a FIFO at a harness path would block a read for ever); its standard output."""
    argv = [hasher, "timeout", str(HASH_TIMEOUT), *argv]
    result = box.container.exec_run(argv, stdout=True, stderr=False, demux=False)
    output = result.output or b""
    return output.decode(errors="replace") if isinstance(output, bytes) else str(output)
