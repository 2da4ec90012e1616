"""Bounded capture of a command's output: the first and last bytes are kept, the middle is counted; read off
Docker's multiplexed exec stream by a thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from docker.utils.socket import frames_iter

STDERR = 2
# How long a command may keep its output pipe open after its main process exited (a background child
# inheriting stdout), and how long a closed stream's reader may take to notice.
PIPE_GRACE_S = 1.0


class HeadTailBuffer:
    """Keeps at most ``cap`` bytes: the first ``cap // 2`` and the last ``cap - cap // 2``.

    Agents and verifiers need both ends of long output (the command's start and the final error), and
    memory must stay bounded whatever a container prints.
    """

    def __init__(self, cap: int) -> None:
        self._head_cap = cap // 2
        self._tail_cap = cap - self._head_cap
        self._head = bytearray()
        self._tail = bytearray()
        self.total_bytes = 0

    def write(self, data: bytes) -> None:
        self.total_bytes += len(data)
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            excess = len(self._tail) - self._tail_cap
            if excess > 0:
                del self._tail[:excess]

    @property
    def cut_bytes(self) -> int:
        return self.total_bytes - len(self._head) - len(self._tail)

    def text(self) -> str:
        """The kept bytes as text, with a marker saying how much was cut from the middle."""
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        if self.cut_bytes == 0:
            return head + tail
        return f"{head}\n[... {self.cut_bytes} bytes of output cut ...]\n{tail}"


class PidMarkerFilter:
    """Strips the ``\\x1ecligym-pid:N\\x1e`` marker our exec wrapper prints first on stderr, and keeps N.

    Docker's exec API gives no in-container PID, and killing a timed-out command needs one.
    """

    MARK = b"\x1e"
    PREFIX = b"\x1ecligym-pid:"
    _MAX_MARKER = 40

    def __init__(self, sink: HeadTailBuffer) -> None:
        self._sink = sink
        self._pending = bytearray()
        self._done = False
        self.pid: int | None = None

    def write(self, data: bytes) -> None:
        if self._done:
            self._sink.write(data)
            return
        self._pending += data
        if not self.PREFIX.startswith(bytes(self._pending[: len(self.PREFIX)])):
            self._flush()
            return
        end = self._pending.find(self.MARK, 1)
        if end == -1:
            if len(self._pending) > self._MAX_MARKER:
                self._flush()
            return
        digits = bytes(self._pending[len(self.PREFIX) : end])
        if digits.isdigit():
            self.pid = int(digits)
            del self._pending[: end + 1]
        self._flush()

    def close(self) -> None:
        if not self._done:
            self._flush()

    def _flush(self) -> None:
        self._done = True
        if self._pending:
            self._sink.write(bytes(self._pending))
            self._pending.clear()


class FramePump(threading.Thread):
    """Reads Docker's multiplexed exec stream into the capture buffers until it ends or is closed."""

    def __init__(self, sock: Any, stdout: HeadTailBuffer, stderr: PidMarkerFilter) -> None:
        super().__init__(name="cligym-exec-output", daemon=True)
        self._sock = sock
        self._stdout = stdout
        self._stderr = stderr
        self.last_data_at = time.monotonic()

    def run(self) -> None:
        try:
            for stream, data in frames_iter(self._sock, tty=False):
                (self._stderr if stream == STDERR else self._stdout).write(data)
                self.last_data_at = time.monotonic()
        except (OSError, ValueError):  # the socket was closed under us
            pass

    def close(self) -> None:
        """Unblock the reader (a killed or escaped process may still hold the pipe) and wait for it."""
        raw = getattr(self._sock, "_sock", None)
        try:
            if raw is not None:
                raw.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        except OSError:
            pass
        self.join(PIPE_GRACE_S)
