"""What an episode really changed in its container, read from outside it (Docker's diff API and archive
reads), so no file the agent edited can lie about it: added, changed and deleted paths against the task
image, and which of them leave the test harness unlike gold (``tests/harness.json``)."""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path

from docker.errors import DockerException
from pydantic import BaseModel, Field

from cligym.generation.gold.harness import VERIFIER_PROGRAMS, HarnessManifest
from cligym.sandbox import Sandbox

# Docker's diff kinds.
_CHANGED, _ADDED, _DELETED = 0, 1, 2
MAX_PATHS_PER_KIND = 500
_HOOK_NAMES = ("sitecustomize.py", "usercustomize.py")
_HOOK_PACKAGES = ("sitecustomize", "usercustomize")
_ENTRY_POINTS = ".dist-info/entry_points.txt"
# Programs found on PATH by name: a wrapper in front of one can lie for the verifier or the tests.
_INTERPRETER_NAMES = ("python", "python3", *VERIFIER_PROGRAMS)
_PROGRAM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


class FileChanges(BaseModel):
    """The container's file-system changes at the end of the episode, before the verifier ran."""

    added: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    total: int = Field(0, description="Paths changed in all (the lists stop at MAX_PATHS_PER_KIND each).")
    harness: list[str] = Field(
        default_factory=list,
        description="Harness files the episode left unlike gold (content compared from outside the container).",
    )


def episode_changes(box: Sandbox, harness_manifest: Path | None) -> FileChanges | None:
    """Diff ``box`` against its image; with the task's harness manifest, name the harness files it changed.
    None when the daemon cannot say (the container is gone)."""
    try:
        entries = box.container.diff() or []
    except DockerException:
        return None
    by_kind: dict[int, list[str]] = {_CHANGED: [], _ADDED: [], _DELETED: []}
    for entry in entries:
        by_kind.setdefault(int(entry["Kind"]), []).append(str(entry["Path"]))
    manifest = _read_manifest(harness_manifest)
    harness = _harness_differences(box, by_kind, manifest) if manifest is not None else []
    return FileChanges(
        added=sorted(by_kind[_ADDED])[:MAX_PATHS_PER_KIND],
        changed=sorted(by_kind[_CHANGED])[:MAX_PATHS_PER_KIND],
        deleted=sorted(by_kind[_DELETED])[:MAX_PATHS_PER_KIND],
        total=len(entries),
        harness=harness,
    )


def _read_manifest(path: Path | None) -> HarnessManifest | None:
    if path is None or not path.is_file():
        return None
    try:
        return HarnessManifest.model_validate_json(path.read_text())
    except ValueError:
        return None


def _harness_differences(box: Sandbox, by_kind: dict[int, list[str]], manifest: HarnessManifest) -> list[str]:
    gold, hooks = {**manifest.own_files, **manifest.files}, set(manifest.hook_dirs)
    shadowed = _module_places(manifest)
    found = []
    for path in sorted(by_kind[_CHANGED] + by_kind[_ADDED]):
        if path in gold:
            if _digest(box, path) != gold[path]:
                found.append(f"{path} (modified)")
        elif (
            _is_hook(path, hooks)
            or _is_interpreter(path)
            or path in manifest.absent
            or _is_listed_addition(path, manifest)
        ):
            found.append(f"{path} (added)")
        elif (module := shadowed.get(_module_place(path))) is not None and not _is_gold_place(path, manifest, module):
            found.append(f"{path} (shadows {module})")
        elif path.endswith(_ENTRY_POINTS) and path in by_kind[_ADDED] and _registers_pytest_plugin(box, path):
            found.append(f"{path} (registers a pytest plugin)")
    found += [f"{path} (deleted)" for path in sorted(by_kind[_DELETED]) if path in gold]
    return found


def _is_listed_addition(path: str, manifest: HarnessManifest) -> bool:
    directory, name = posixpath.split(path)
    return directory in manifest.listings and name not in manifest.listings[directory]


def _module_place(path: str) -> tuple[str, str]:
    """(directory searched, module name) a file would be imported as: ``d/m.py``, ``d/m.*.so``, ``d/m/__init__.py``."""
    directory, name = posixpath.split(path)
    if name.startswith("__init__."):
        directory, name = posixpath.split(directory)
    return directory, name.split(".", 1)[0]


def _is_gold_place(path: str, manifest: HarnessManifest, module: str) -> bool:
    """Whether ``path`` is the gold file of ``module`` or its package's directory (listed as changed whenever
    a file inside it is)."""
    origin = manifest.modules.get(module, "")
    return path == origin or (posixpath.basename(origin).startswith("__init__.") and path == posixpath.dirname(origin))


def _registers_pytest_plugin(box: Sandbox, path: str) -> bool:
    try:
        return b"[pytest11]" in box.read_file(path)
    except (OSError, ValueError):
        return False


def _module_places(manifest: HarnessManifest) -> dict[tuple[str, str], str]:
    """Every (directory, name) where a file would be imported in place of a harness module: a top-level one
    in any directory of the search path, a submodule beside its gold file."""
    places: dict[tuple[str, str], str] = {}
    for module, origin in manifest.modules.items():
        parent, _, tail = module.rpartition(".")
        if not parent:
            places.update({(directory, module): module for directory in manifest.search_path})
        elif not origin.startswith("namespace "):
            directory = posixpath.dirname(origin)
            if posixpath.basename(origin).startswith("__init__."):
                directory = posixpath.dirname(directory)
            places[(directory, tail)] = module
    return places


def _is_hook(path: str, hook_dirs: set[str]) -> bool:
    directory, name = posixpath.split(path)
    if name.startswith("__init__.") and posixpath.basename(directory) in _HOOK_PACKAGES:
        directory, name = posixpath.split(directory)
    return directory in hook_dirs and (name.endswith(".pth") or name in _HOOK_NAMES or name in _HOOK_PACKAGES)


def _is_interpreter(path: str) -> bool:
    directory, name = posixpath.split(path)
    return directory in _PROGRAM_DIRS and name in _INTERPRETER_NAMES


def _digest(box: Sandbox, path: str) -> str | None:
    """sha256 of the file's bytes as the daemon reads them (None: not a readable regular file)."""
    try:
        return hashlib.sha256(box.read_file(path)).hexdigest()
    except (OSError, ValueError):
        return None
