"""The typed outcome of one command run in a sandbox."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ExecResult(BaseModel):
    """What a command did: exit code, captured output (head and tail kept), duration, and whether it was
    killed on timeout. A non-zero exit is a normal result; a broken sandbox raises instead."""

    model_config = ConfigDict(frozen=True)

    command: str
    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    stdout_cut_bytes: int = 0
    stderr_cut_bytes: int = 0

    @property
    def ok(self) -> bool:
        """True when the command ran to completion and exited 0."""
        return self.exit_code == 0 and not self.timed_out

    def summary(self) -> str:
        """One line for logs: exit code or timeout, and the duration."""
        status = f"killed after timeout ({self.duration_s:.1f}s)" if self.timed_out else f"exit {self.exit_code}"
        return f"{status} in {self.duration_s:.2f}s: {self.command[:80]}"
