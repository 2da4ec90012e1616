"""The parts of a Harbor trial's files read here (``result.json``, ``config.json``, the agent's ATIF
``trajectory.json``), leniently: Harbor adds fields often, so extra keys are ignored."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

RESULT_FILE = "result.json"
CONFIG_FILE = "config.json"
ATIF_FILE = Path("agent") / "trajectory.json"
VERIFIER_DIR = "verifier"
ModelT = TypeVar("ModelT", bound=BaseModel)


class Unreadable(Exception):
    """A trial that cannot be imported; the message names the file and why."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _TaskRef(_Lenient):
    path: str | None = None


class _AgentConfig(_Lenient):
    name: str | None = None
    model_name: str | None = None
    base_url: str | None = None
    # Named apart from Harbor's "kwargs": pydantic's mypy plugin cannot have a field called that.
    options: dict[str, Any] = Field(default_factory=dict, validation_alias=AliasChoices("kwargs"))


class _TrialConfig(_Lenient):
    task: _TaskRef = Field(default_factory=_TaskRef)
    agent: _AgentConfig = Field(default_factory=_AgentConfig)


class _ModelInfo(_Lenient):
    name: str
    provider: str | None = None


class _AgentInfo(_Lenient):
    name: str
    model_info: _ModelInfo | None = None


class _AgentContext(_Lenient):
    n_input_tokens: int | None = None
    n_output_tokens: int | None = None


class _Verdict(_Lenient):
    rewards: dict[str, float] | None = None


class _ExceptionInfo(_Lenient):
    exception_type: str
    exception_message: str = ""


class _Timing(_Lenient):
    started_at: datetime | None = None
    finished_at: datetime | None = None


class _StepResult(_Lenient):
    verifier_result: _Verdict | None = None


class TrialResult(_Lenient):
    task_name: str
    trial_name: str
    task_id: _TaskRef | None = None
    config: _TrialConfig = Field(default_factory=_TrialConfig)
    agent_info: _AgentInfo | None = None
    agent_result: _AgentContext | None = None
    verifier_result: _Verdict | None = None
    exception_info: _ExceptionInfo | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    verifier: _Timing | None = None
    step_results: list[_StepResult] | None = None


class AtifPart(_Lenient):
    type: str
    text: str | None = None
    source: dict[str, Any] | None = None


AtifContent = str | list[AtifPart] | None


class AtifToolCall(_Lenient):
    tool_call_id: str
    function_name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class AtifSubagentRef(_Lenient):
    """Where a delegated subagent's trajectory is: ``trajectory_id`` names one embedded in the parent's
    ``subagent_trajectories``, ``trajectory_path`` a file (Terminus writes a name beside ``trajectory.json``);
    ``session_id`` is informational only in ATIF and never resolves a reference."""

    trajectory_id: str | None = None
    trajectory_path: str | None = None
    session_id: str | None = None

    def describe(self) -> str:
        return self.trajectory_path or self.trajectory_id or f"session {self.session_id}"


class AtifResult(_Lenient):
    source_call_id: str | None = None
    content: AtifContent = None
    subagent_trajectory_ref: list[AtifSubagentRef] | None = None


class _AtifObservation(_Lenient):
    results: list[AtifResult] = Field(default_factory=list)


class AtifMetrics(_Lenient):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class AtifStep(_Lenient):
    step_id: int
    source: Literal["system", "user", "agent"]
    message: AtifContent = ""
    reasoning_content: str | None = None
    tool_calls: list[AtifToolCall] | None = None
    observation: _AtifObservation | None = None
    metrics: AtifMetrics | None = None
    # ATIF-v1.5: the step was copied from an earlier trajectory for context (Terminus's summarisation
    # subagents and continuation files, resumed pi/Kimi sessions); it is not this trajectory's output.
    is_copied_context: bool | None = None
    # ATIF-v1.7: 0 on an agent step marks a deterministic dispatch, one no model call produced.
    llm_call_count: int | None = None

    def subagent_refs(self) -> list[AtifSubagentRef]:
        results = self.observation.results if self.observation else []
        return [ref for result in results for ref in result.subagent_trajectory_ref or []]


class _AtifAgent(_Lenient):
    name: str
    model_name: str | None = None
    tool_definitions: list[dict[str, Any]] | None = None


class _AtifFinalMetrics(_Lenient):
    total_prompt_tokens: int | None = None
    total_completion_tokens: int | None = None


class AtifTrajectory(_Lenient):
    schema_version: str
    trajectory_id: str | None = None
    agent: _AtifAgent
    steps: list[AtifStep] = Field(min_length=1)
    final_metrics: _AtifFinalMetrics | None = None
    continued_trajectory_ref: str | None = None
    subagent_trajectories: list[AtifTrajectory] | None = None

    @field_validator("schema_version")
    @classmethod
    def _is_atif(cls, value: str) -> str:
        if not value.startswith("ATIF-"):
            raise ValueError(f"not an ATIF schema version: {value!r}")
        return value


# -- the import --------------------------------------------------------------------------------------------


def read_model(path: Path, model: type[ModelT]) -> ModelT:
    if not path.is_file():
        detail = " (the trial has not finished)" if path.name == RESULT_FILE else ""
        raise Unreadable(f"{path.name} is missing{detail}")
    try:
        return model.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise Unreadable(f"{_relative(path)} is not valid ({where}: {first['msg']})") from None
    except OSError as exc:
        raise Unreadable(f"{_relative(path)} cannot be read ({exc.strerror or exc})") from None


def _relative(path: Path) -> str:
    """The path from the trial directory, which the skipped trial's row already names."""
    return path.name if path.parent.name != "agent" else f"agent/{path.name}"
