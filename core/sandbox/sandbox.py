"""A Docker container we started, limited in resources and always removed: the one way every stage
touches containers."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tarfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any

from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container

from cligym.docker_connection import docker_client
from cligym.errors import CligymError, SandboxUnavailableError
from cligym.labels import ROLE_COMMIT, ROLE_SANDBOX, SESSION, cligym_labels, current_session
from cligym.sandbox.exec_result import ExecResult
from cligym.sandbox.output_capture import PIPE_GRACE_S, FramePump, HeadTailBuffer, PidMarkerFilter
from cligym.sandbox.process_tree import EXEC_WRAPPER, KILL_TREE
from cligym.settings import SandboxSettings

log = logging.getLogger(__name__)

# How long we wait for a killed tree to release its output pipe.
_KILL_GRACE_S = 5.0
_POLL_S = 0.25

# Every sandbox this process has started and not yet removed, so that Ctrl-C can remove them all, also
# those that worker threads are using. Once cancelled, no new sandbox starts.
_live_sandboxes: set[Sandbox] = set()
_live_lock = threading.Lock()
_cancelled = threading.Event()
_WORKER_GRACE_S = 5.0


def shutting_down() -> bool:
    """Whether Ctrl-C (or SIGTERM) began removing this process's sandboxes: a unit failing now failed of it."""
    return _cancelled.is_set()


def remove_live_sandboxes() -> int:
    """Stop starting sandboxes and remove every container this process started; returns how many.

    Worker threads get a few seconds to notice (their containers vanish under them), then any container
    labelled with this session that a thread created meanwhile is removed too.
    """
    with _live_lock:
        _cancelled.set()
        sandboxes = list(_live_sandboxes)
    for sandbox in sandboxes:
        sandbox.remove()
    deadline = time.monotonic() + _WORKER_GRACE_S
    for thread in threading.enumerate():
        if thread.name.startswith("cligym-worker"):
            thread.join(max(0.0, deadline - time.monotonic()))
    return len(sandboxes) + remove_labelled_containers(f"{SESSION}={current_session()}")


def remove_labelled_containers(label: str) -> int:
    """Force-remove every container carrying ``label`` (``key=value``), running or not; returns how many."""
    removed = 0
    for container in docker_client().containers.list(all=True, filters={"label": label}):
        with contextlib.suppress(DockerException):
            container.remove(force=True, v=True)
            removed += 1
    return removed


SHARED_SCRATCH_DIRS = frozenset({"tmp", "var/tmp", "dev/shm"})


KEEPALIVE = "[ -x /bin/busybox ] && exec /bin/busybox sleep infinity; exec /usr/bin/sleep infinity"


class Sandbox:
    """A labelled, resource-limited container kept alive for ``exec`` calls, removed on exit.

    Use as a context manager; the container is removed on normal exit, on exceptions and on Ctrl-C::

        with Sandbox("python:3.11-slim", run_id="demo") as box:
            result = box.exec("python3 --version", timeout=10)
    """

    def __init__(
        self,
        image: str,
        *,
        run_id: str | None = None,
        settings: SandboxSettings | None = None,
        network: bool | None = None,
        environment: dict[str, str] | None = None,
        workdir: str | None = None,
        cap_add: list[str] | None = None,
        name_prefix: str = "cligym",
        keepalive_command: list[str] | None = None,
        before_start: Callable[[Sandbox], None] | None = None,
    ) -> None:
        self.image = image
        self.run_id = run_id
        self.settings = settings or SandboxSettings()
        self.network = self.settings.network if network is None else network
        self.environment = environment or {}
        self.workdir = workdir
        self.cap_add = cap_add or []
        self.name = f"{name_prefix}-{run_id + '-' if run_id else ''}{uuid.uuid4().hex[:10]}"
        # The static busybox every gold image has, by its path: a break that shadows or stubs `sleep` on PATH
        # (a task's very fault) must not stop the container itself. Images without it fall back to coreutils.
        self.keepalive_command = keepalive_command or ["/bin/sh", "-c", KEEPALIVE]
        # Runs on the created container before it starts (files written then exist before any of its code runs).
        self.before_start = before_start
        self._container: Container | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Create and start the container. Raises ``CligymError`` when the image does not exist."""
        if _cancelled.is_set():
            raise SandboxUnavailableError("cligym is shutting down (interrupted)")
        client = docker_client()
        try:
            self._container = client.containers.create(
                self.image,
                command=self.keepalive_command,
                name=self.name,
                labels=cligym_labels(ROLE_SANDBOX, self.run_id) | {SESSION: current_session()},
                mem_limit=self.settings.memory,
                memswap_limit=self.settings.memory,
                pids_limit=self.settings.pids,
                nano_cpus=int(self.settings.cpus * 1e9),
                network_mode=None if self.network else "none",
                environment=self.environment,
                working_dir=self.workdir,
                cap_add=self.cap_add,
                # An init process reaps the zombies of killed commands and forwards signals.
                init=True,
            )
            with _live_lock:  # from now on an interrupt removes it, whatever stage it is in
                _live_sandboxes.add(self)
            if self.before_start is not None:
                try:
                    self.before_start(self)
                except OSError as exc:
                    self._remove_by_name()
                    raise SandboxUnavailableError(f"cannot prepare a container from {self.image!r}: {exc}") from None
            container = self._container
            if container is None:  # removed by an interrupt while it was being prepared
                raise SandboxUnavailableError("cligym is shutting down (interrupted)")
            container.start()
        except ImageNotFound:
            raise CligymError(
                f"image {self.image!r} does not exist on this Docker host",
                "build it first (e.g. `cligym base build` for the base image)",
            ) from None
        except APIError as exc:
            self._remove_by_name()
            raise SandboxUnavailableError(f"cannot start a container from {self.image!r}: {exc.explanation}") from None
        except BaseException:  # a cancelled unit (Ctrl-C, Ray's cancellation) must not leave it created
            self.remove()
            self._remove_by_name()
            raise
        if not _cancelled.is_set():
            return self
        self.remove()
        raise SandboxUnavailableError("cligym is shutting down (interrupted)")

    def remove(self) -> None:
        """Remove the container (killing anything still running in it). Safe to call twice."""
        with _live_lock:
            _live_sandboxes.discard(self)
        container, self._container = self._container, None
        if container is None:
            return
        try:
            container.remove(force=True, v=True)
        except NotFound:
            pass
        except DockerException as exc:  # leave it for `cligym gc`, which finds it by label
            log.warning("could not remove container %s: %s", container.name, exc)

    def _remove_by_name(self) -> None:
        with contextlib.suppress(DockerException):
            docker_client().containers.get(self.name).remove(force=True, v=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()

    @property
    def container(self) -> Container:
        if self._container is None:
            raise SandboxUnavailableError(f"sandbox {self.name} is not running", "use it inside `with Sandbox(...)`")
        return self._container

    @property
    def id(self) -> str:
        return str(self.container.id)

    # -- commands --------------------------------------------------------------------------------------

    def exec(
        self,
        command: str,
        *,
        timeout: float | None = None,
        output_cap_bytes: int | None = None,
        environment: dict[str, str] | None = None,
        workdir: str | None = None,
        user: str = "",
        shell: str = "/bin/bash",
        login: bool = False,
    ) -> ExecResult:
        """Run ``command`` through ``shell -c`` and wait at most ``timeout`` seconds.

        On timeout the command and every process it started are killed, and the result has
        ``timed_out=True``. Each output stream keeps at most ``output_cap_bytes`` (head and tail).
        """
        timeout = self.settings.exec_timeout if timeout is None else timeout
        cap = self.settings.output_cap_bytes if output_cap_bytes is None else output_cap_bytes
        api = docker_client().api
        argv = ["/bin/sh", "-c", EXEC_WRAPPER, "cligym-exec", shell, command]
        if login:
            argv = ["/bin/sh", "-c", EXEC_WRAPPER.replace('-c "$2"', '-lc "$2"'), "cligym-exec", shell, command]
        started = time.monotonic()
        try:
            exec_id = api.exec_create(
                self.container.id,
                argv,
                stdout=True,
                stderr=True,
                environment=environment,
                workdir=workdir,
                user=user,
            )["Id"]
            sock = api.exec_start(exec_id, socket=True)
        except NotFound:
            raise SandboxUnavailableError(f"container {self.name} is gone") from None
        except APIError as exc:
            raise SandboxUnavailableError(f"cannot exec in {self.name}: {exc.explanation}") from None

        stdout = HeadTailBuffer(cap)
        stderr = HeadTailBuffer(cap)
        stderr_filter = PidMarkerFilter(stderr)
        pump = FramePump(sock, stdout, stderr_filter)
        pump.start()
        timed_out = self._wait_for_exec(api, exec_id, pump, started + timeout)
        if timed_out:
            if stderr_filter.pid is not None:
                self._kill_tree(stderr_filter.pid)
            pump.join(_KILL_GRACE_S)
        pump.close()
        stderr_filter.close()
        exit_code = self._exit_code(api, exec_id)
        return ExecResult(
            command=command,
            exit_code=exit_code,
            stdout=stdout.text(),
            stderr=stderr.text(),
            duration_s=round(time.monotonic() - started, 3),
            timed_out=timed_out,
            stdout_cut_bytes=stdout.cut_bytes,
            stderr_cut_bytes=stderr.cut_bytes,
        )

    def _wait_for_exec(self, api: Any, exec_id: str, pump: FramePump, deadline: float) -> bool:
        """Wait until the output stream ends or the exec process exits; True when the deadline passed."""
        exited = False
        while pump.is_alive():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            pump.join(min(_POLL_S, remaining))
            # The main process may have exited while a background child still holds the pipe open: keep
            # reading while output still flows, then stop waiting for the pipe.
            exited = exited or not self._exec_running(api, exec_id)
            if exited and time.monotonic() - pump.last_data_at > PIPE_GRACE_S:
                return False
        return False

    def _exec_running(self, api: Any, exec_id: str) -> bool:
        try:
            return bool(api.exec_inspect(exec_id)["Running"])
        except NotFound:
            raise SandboxUnavailableError(f"container {self.name} is gone") from None

    def _exit_code(self, api: Any, exec_id: str) -> int | None:
        # The daemon may need a moment after the stream closes to record the exit code.
        for _ in range(40):
            info = api.exec_inspect(exec_id)
            if not info["Running"]:
                code = info["ExitCode"]
                return int(code) if code is not None else None
            time.sleep(0.05)
        return None

    def _kill_tree(self, pid: int) -> None:
        try:
            exec_id = docker_client().api.exec_create(
                self.container.id, ["/bin/sh", "-c", KILL_TREE, "cligym-kill", str(pid)], user="0"
            )["Id"]
            docker_client().api.exec_start(exec_id)
        except DockerException as exc:
            log.warning("could not kill timed-out process tree %s in %s: %s", pid, self.name, exc)

    # -- files -----------------------------------------------------------------------------------------

    def write_file(self, path: str, content: bytes | str, mode: int = 0o644) -> None:
        """Write ``content`` to the absolute ``path`` in the container (parent directories are created).

        Goes through Docker's archive API, so it works even when the container's own tools are broken.
        """
        data = content.encode() if isinstance(content, str) else content

        def add(archive: tarfile.TarFile, name: str) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            archive.addfile(info, io.BytesIO(data))

        self._put(path, add, f"cannot write {path}")

    def copy_dir(self, source: Path, path: str) -> None:
        """Copy the local directory ``source`` to the absolute ``path`` in the container (modes kept)."""
        self._put(
            path,
            lambda archive, name: archive.add(str(source), arcname=name, recursive=True),
            f"cannot copy {source} to {path}",
        )

    def _put(self, path: str, add: Callable[[tarfile.TarFile, str], None], failure: str) -> None:
        """One archive holding ``path``'s parent directories and what ``add`` puts at ``path``, unpacked at /."""
        target = PurePosixPath(path)
        if not target.is_absolute():
            raise ValueError(f"sandbox paths must be absolute, got {path!r}")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            parts = target.parts[1:]
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                info = tarfile.TarInfo(parent)
                # Unpacking sets each parent's mode: /tmp must stay world-writable and sticky (apt's
                # sandbox user writes there), like every shared scratch directory.
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if parent in SHARED_SCRATCH_DIRS else 0o755
                archive.addfile(info)
            add(archive, "/".join(parts))
        try:
            self.container.put_archive("/", buffer.getvalue())
        except APIError as exc:
            raise OSError(f"{failure} in {self.name}: {exc.explanation}") from None

    def read_file(self, path: str) -> bytes:
        """The bytes of the regular file at ``path``; ``FileNotFoundError`` when there is none."""
        try:
            stream, _ = self.container.get_archive(path)
        except NotFound:
            raise FileNotFoundError(f"{path} does not exist in {self.name}") from None
        except APIError as exc:
            raise OSError(f"cannot read {path} in {self.name}: {exc.explanation}") from None
        try:
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream)), mode="r") as archive:
                member = archive.next()
                if member is None or not member.isfile():
                    raise IsADirectoryError(f"{path} in {self.name} is not a regular file")
                extracted = archive.extractfile(member)
                assert extracted is not None
                return extracted.read()
        except tarfile.TarError as exc:  # the file changed while the daemon archived it
            raise OSError(f"cannot read {path} in {self.name}: {exc}") from None

    # -- images ----------------------------------------------------------------------------------------

    def commit(self, repository: str, tag: str = "latest", message: str = "") -> str:
        """Snapshot the container's file system as a new image; returns its id.

        The image keeps the source image's CMD/ENTRYPOINT, not our keep-alive command, and carries our labels.
        """
        source_config = docker_client().images.get(self.image).attrs.get("Config") or {}
        changes = [f"LABEL {key}={value}" for key, value in cligym_labels(ROLE_COMMIT, self.run_id).items()]
        changes.append(f"CMD {json.dumps(source_config.get('Cmd') or [])}")
        try:
            image = self.container.commit(repository=repository, tag=tag, message=message, changes=changes)
        except APIError as exc:
            raise SandboxUnavailableError(f"cannot commit {self.name}: {exc.explanation}") from None
        return str(image.id)
