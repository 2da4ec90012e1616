"""Exported Harbor task directories as the rollout reads them: the instruction, the environment to build,
the verifier, and what the task's metadata says about it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cligym.errors import CligymError
from cligym.generation.export.task_toml import TASK_TOML, TaskToml


@dataclass(frozen=True)
class RolloutTask:
    """One Harbor task directory (``task.toml``, ``instruction.md``, ``environment/``, ``tests/``)."""

    task_id: str
    path: Path
    instruction: str
    repo: str
    category: str
    verifier_timeout: float
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]
    difficulty: str = ""

    @property
    def environment_dir(self) -> Path:
        return self.path / "environment"

    @property
    def tests_dir(self) -> Path:
        return self.path / "tests"

    def image_tag(self) -> str:
        """``cligym/task-NAME:HASH`` where the hash covers everything the image is built from."""
        name = re.sub(r"[^a-z0-9_.-]+", "-", self.task_id.lower()).strip("-.")[:100] or "task"
        return f"cligym/task-{name}:{directory_hash(self.environment_dir)[:12]}"


def load_task(path: Path) -> RolloutTask:
    """Read one task directory; a missing or malformed file is a ``CligymError`` naming it."""
    path = path.resolve()
    toml_path = path / TASK_TOML
    if not toml_path.is_file():
        raise CligymError(
            f"{path} is not a Harbor task directory (no {TASK_TOML})", "pass RUN/harbor/TASK or RUN/harbor"
        )
    config = TaskToml.read(toml_path)
    for required in ("instruction.md", "environment/Dockerfile", "tests/test.sh"):
        if not (path / required).is_file():
            raise CligymError(f"task {path.name}: {required} is missing", "re-export it with `cligym generate`")
    expected: dict[str, list[str]] = {}
    expected_path = path / "tests" / "expected.json"
    if expected_path.is_file():
        try:
            expected = json.loads(expected_path.read_text())
        except json.JSONDecodeError as exc:
            raise CligymError(f"{expected_path}: not valid JSON ({exc})") from None
    return RolloutTask(
        task_id=path.name,
        path=path,
        instruction=(path / "instruction.md").read_text(),
        repo=config.metadata.repo,
        category=config.metadata.category,
        difficulty=config.metadata.difficulty,
        verifier_timeout=config.verifier.timeout_sec,
        fail_to_pass=tuple(expected.get("fail_to_pass", [])),
        pass_to_pass=tuple(expected.get("pass_to_pass", [])),
    )


def find_tasks(paths: list[Path]) -> list[RolloutTask]:
    """Task directories named directly, or every task directory directly under a named directory."""
    tasks: dict[str, RolloutTask] = {}
    for path in paths:
        if not path.exists():
            raise CligymError(f"{path} does not exist", "pass exported task directories, e.g. runs/demo/harbor")
        if (path / TASK_TOML).is_file():
            found = [load_task(path)]
        else:
            found = [load_task(child) for child in sorted(path.iterdir()) if (child / TASK_TOML).is_file()]
            if not found:
                raise CligymError(f"{path} holds no Harbor task directories", "pass RUN/harbor from `cligym generate`")
        for task in found:
            tasks.setdefault(task.task_id, task)
    return list(tasks.values())


def directory_hash(directory: Path) -> str:
    """sha256 over the relative paths, modes and contents of every file under ``directory``."""
    digest = hashlib.sha256()
    for file in sorted(p for p in directory.rglob("*") if p.is_file() or p.is_symlink()):
        relative = file.relative_to(directory).as_posix()
        digest.update(relative.encode() + b"\0")
        if file.is_symlink():
            digest.update(b"link:" + str(file.readlink()).encode())
        else:
            digest.update(oct(file.stat().st_mode & 0o777).encode())
            digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()
