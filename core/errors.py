"""Errors a user can fix. The CLI prints them as one line plus a hint, without a traceback."""

from __future__ import annotations


class CligymError(Exception):
    """A problem with the user's input or machine, explained in one line with a hint to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class ConfigError(CligymError):
    """A config file or option is malformed or names something that does not exist."""


class DockerUnavailableError(CligymError):
    """The Docker daemon cannot be reached."""


class SandboxUnavailableError(CligymError):
    """The container itself is broken or gone, as opposed to a command in it failing.

    A failing command is a normal ``ExecResult``; this error means the sandbox can no longer be trusted.
    """


class BaseImageError(CligymError):
    """The base image could not be found, pulled or built."""


class ImageBuildError(CligymError):
    """``docker build`` failed; the message carries the failing step and the end of its output."""
