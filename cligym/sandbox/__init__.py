"""The container sandbox every stage uses: start, exec with a hard timeout, files, commit, always remove."""

from cligym.sandbox.exec_result import ExecResult
from cligym.sandbox.sandbox import Sandbox

__all__ = ["ExecResult", "Sandbox"]
