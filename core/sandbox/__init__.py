"""The container sandbox every stage uses: start, exec with a hard timeout, files, commit, always remove."""

from cligym.sandbox.exec_result import ExecResult
from cligym.sandbox.sandbox import Sandbox, remove_labelled_containers, remove_live_sandboxes, shutting_down

__all__ = ["ExecResult", "Sandbox", "remove_labelled_containers", "remove_live_sandboxes", "shutting_down"]
