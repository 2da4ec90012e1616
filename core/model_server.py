"""A model server started for the duration of a job: ``vllm serve`` as a child process on a GPU node.

The server is ready when ``GET /health`` answers 200 (it needs no API key, where ``/v1/models`` answers 401 to
a request without the server's ``--api-key``); it is stopped (its whole process group, TERM then KILL)
when the job ends, fails or is interrupted. Without a launcher, jobs use any OpenAI-compatible URL instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from cligym.errors import CligymError

READY_POLL_SECONDS = 2.0
STOP_GRACE_SECONDS = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class ModelServer:
    """``with ModelServer("Qwen/Qwen3-8B", tensor_parallel_size=2) as server: use(server.base_url)``."""

    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        extra_args: Sequence[str] = (),
        host: str = "127.0.0.1",
        advertise: str | None = None,
        port: int | None = None,
        command: Sequence[str] = ("vllm", "serve"),
        log_path: Path | None = None,
        startup_timeout: float = 1800.0,
    ) -> None:
        self.model = model
        self.host = host
        # What clients dial: the node's address when the server listens on all interfaces for other nodes.
        self.advertise = advertise or host
        self.port = port or free_port(host)
        self.argv = [
            *command,
            model,
            "--host",
            host,
            "--port",
            str(self.port),
            "--tensor-parallel-size",
            str(tensor_parallel_size),
            *extra_args,
        ]
        self.log_path = log_path or Path(f"vllm-{self.port}.log")
        self.startup_timeout = startup_timeout
        self.served_models: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.advertise}:{self.port}/v1"

    def start(self) -> ModelServer:
        if shutil.which(self.argv[0]) is None:
            raise CligymError(
                f"cannot start the model server: {self.argv[0]!r} is not installed",
                "pip install 'cligym[vllm]' on a GPU node, or pass --base-url of a running server instead of --serve",
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            # A session of its own: stopping the server stops its workers (tensor-parallel ranks) too.
            self._process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise CligymError(
                    f"the model server exited with code {code} before it was ready:\n{self.log_tail()}",
                    f"full log: {self.log_path}",
                )
            if self._healthy():
                self.served_models = self._listed_models()
                return
            time.sleep(READY_POLL_SECONDS)
        raise CligymError(
            f"the model server did not answer {self.health_url} within {self.startup_timeout:.0f} s:\n"
            f"{self.log_tail()}",
            "large models load slowly: raise the start-up timeout, or check the log for an error",
        )

    @property
    def health_url(self) -> str:
        return f"http://{self.advertise}:{self.port}/health"

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=5) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def _listed_models(self) -> list[str]:
        """The names the server serves, asked with its API key; empty when it will not say."""
        request = urllib.request.Request(f"{self.base_url}/models")
        key = _flag_value(self.argv, "--api-key") or os.environ.get("VLLM_API_KEY")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                listing = json.load(response)
            return [str(entry.get("id")) for entry in listing.get("data", [])]
        except (OSError, urllib.error.URLError, ValueError, AttributeError):
            return []

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _flag_value(argv: Sequence[str], flag: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg == flag and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
    return None
