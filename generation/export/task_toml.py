"""``task.toml``, Harbor's task configuration, as one model: written by the exporter, read by the rollout and
the dataset builder. Harbor's schema (``harbor task schema``) has more fields; these are the ones we set."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cligym.errors import CligymError
from cligym.generation.export.shell_startup import EMPTY_STARTUP

TASK_TOML = "task.toml"
HARBOR_SCHEMA_VERSION = "1.4"
DEFAULT_VERIFIER_TIMEOUT = 600.0


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TaskInfo(_Section):
    name: str = ""
    version: str = "1.0.0"
    description: str = ""
    authors: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)


class TaskMetadata(_Section):
    repo: str = ""
    category: str = ""
    inverter: str = ""
    difficulty: str = ""
    fail_to_pass: int = 0
    pass_to_pass: int = 0
    # Repaired by the diagnosis-free sweep; None: the sweep did not run.
    shallow: bool | None = None


class VerifierConfig(_Section):
    timeout_sec: float = DEFAULT_VERIFIER_TIMEOUT
    # The verifier judges the container the agent repaired, so it must share it.
    environment_mode: str = "shared"
    # Variables the verifier starts with (BASH_ENV emptied: no start-up file the agent could edit is sourced).
    env: dict[str, str] = Field(default_factory=lambda: dict(EMPTY_STARTUP))


class AgentConfig(_Section):
    timeout_sec: float = 1800.0


class EnvironmentConfig(_Section):
    network_mode: str = "public"
    build_timeout_sec: float = 1800.0
    cpus: int = 2
    memory_mb: int = 4096


class TaskToml(_Section):
    schema_version: str = HARBOR_SCHEMA_VERSION
    artifacts: list[str] = Field(default_factory=list)
    task: TaskInfo = Field(default_factory=TaskInfo)
    metadata: TaskMetadata = Field(default_factory=TaskMetadata)
    verifier: VerifierConfig = Field(default_factory=VerifierConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    environment: EnvironmentConfig = Field(default_factory=EnvironmentConfig)

    def to_toml(self) -> str:
        lines = [f"schema_version = {_value(self.schema_version)}", f"artifacts = {_value(self.artifacts)}", ""]
        for name in ("task", "metadata", "verifier", "agent", "environment"):
            section: BaseModel = getattr(self, name)
            lines.append(f"[{name}]")
            if name == "verifier":
                lines.append("# The verifier judges the container the agent repaired, so it must share it.")
            for key, value in section.model_dump().items():
                if value is not None:
                    lines.append(f"{key} = {_value(value)}")
            lines.append("")
        return "\n".join(lines) + "\n"

    @classmethod
    def read(cls, path: Path) -> TaskToml:
        """The task.toml at ``path``; a missing, malformed or mistyped file is a ``CligymError`` naming it."""
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise CligymError(f"cannot read {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise CligymError(f"{path}: not valid TOML ({exc})") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise CligymError(f"{path}: {where}: {error['msg']}", "re-export the task with `cligym generate`") from None


def _value(value: object) -> str:
    """A TOML value: a JSON string is a valid TOML basic string, lists of strings likewise; a mapping of
    strings an inline table."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(key)} = {_value(item)}" for key, item in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)
