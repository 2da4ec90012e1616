"""cligym: turn healthy software environments into broken ones, and learn to repair them.

Stages live in subpackages: ``cligym.generation``, ``cligym.rollout``, ``cligym.filtering``,
``cligym.training``; the container sandbox they all share is ``cligym.sandbox``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cligym")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
