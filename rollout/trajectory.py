"""The trajectory record: one episode of an agent repairing one task, everything needed to judge, filter and
train on it (``RUN/trajectories.jsonl``, one record per line, schema ``cligym.trajectory/1``).

``messages`` is the conversation exactly as the model was sent it (system, user, assistant with
``tool_calls``, tool results), so datasets are built from it without re-rendering anything; ``steps`` is the
same episode seen from the container (command, output, exit code, duration). Records imported from Harbor
jobs have the same shape with ``source = "harbor"``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cligym.generation.gold.verdict import RequiredStatus
from cligym.llm.messages import ChatMessage
from cligym.rollout.changes import FileChanges

TRAJECTORY_SCHEMA_VERSION = "cligym.trajectory/1"
TRAJECTORIES_FILE = "trajectories.jsonl"

ActionFormat = Literal["tool", "text"]
TerminationReason = Literal[
    "submitted",  # the agent said it was done (submit tool, or the text format's done signal)
    "step_limit",
    "token_limit",
    "time_limit",
    "repeated_failure",  # the same command failed several times in a row
    "model_error",  # the endpoint stayed down or refused the conversation (e.g. context too long)
    "sandbox_error",  # the container died under the agent
    "imported",  # Harbor records: Harbor does not say why its agent stopped
]


class SamplingConfig(BaseModel):
    """The model and how it was sampled; None leaves a value to the server."""

    model_config = ConfigDict(frozen=True)

    model: str
    base_url: str = ""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None


class Step(BaseModel):
    """One model turn and what it did in the container.

    ``command`` is None for a turn that ran nothing (a malformed call, plain text without an action, the
    submit signal); ``output`` is then what the agent was told instead.
    """

    index: int
    command: str | None = None
    output: str = Field("", description="The observation as the model saw it (clipped head and tail).")
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float = Field(0.0, description="Seconds the command ran in the container.")
    model_seconds: float = Field(0.0, description="Seconds the model took to answer, retries included.")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_call_id: str | None = None
    error: str | None = Field(None, description="Why the turn ran no command, when it should have.")


class VerifierResult(BaseModel):
    """The exported verifier's verdict, run in the episode's own container after the agent stopped."""

    reward: float
    tests: dict[str, RequiredStatus] = Field(default_factory=dict, description="Each required test's status.")
    fail_to_pass: list[str] = Field(default_factory=list)
    pass_to_pass: list[str] = Field(default_factory=list)
    exit_code: int | None = None
    seconds: float = 0.0
    output_tail: str = Field("", description="The end of the verifier's pytest output.")
    harness_modified: list[str] = Field(
        default_factory=list, description="Harness files unlike gold (pytest, plugins, start-up hooks): reward 0."
    )

    @property
    def passed(self) -> bool:
        return self.reward >= 1.0

    def failing(self) -> list[str]:
        return [test for test, status in self.tests.items() if status != "passed"]


class Totals(BaseModel):
    steps: int = 0
    commands: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = Field(0.0, description="Wall-clock seconds of the episode, verifier included.")
    model_seconds: float = 0.0
    command_seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Trajectory(BaseModel):
    """One episode: the task, the model, the conversation, the steps, the verdict."""

    schema_version: str = TRAJECTORY_SCHEMA_VERSION
    episode_id: str = Field(description="<task id>#<sample>: unique in a run, the resume key.")
    task_id: str
    sample: int = 0
    task_path: str = Field("", description="The exported task directory the episode ran.")
    node: str = Field("", description="The Ray node the episode ran on; empty when it ran on this machine.")
    repo: str = ""
    category: str = ""
    source: Literal["cligym", "harbor"] = "cligym"
    agent: str = Field("cligym", description="The agent that acted (cligym, or Harbor's agent name).")
    action_format: ActionFormat = "tool"
    sampling: SamplingConfig
    tools: list[dict[str, Any]] = Field(default_factory=list, description="Tool schemas as sent to the model.")
    messages: list[ChatMessage] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    verifier: VerifierResult | None = None
    changes: FileChanges | None = Field(
        None, description="The container's file-system changes when the agent stopped (cligym rollouts only)."
    )
    totals: Totals = Field(default_factory=Totals)
    termination_reason: TerminationReason
    termination_detail: str = ""
    started_at: datetime
    finished_at: datetime

    @property
    def reward(self) -> float:
        return self.verifier.reward if self.verifier is not None else 0.0

    @property
    def resolved(self) -> bool:
        return self.verifier is not None and self.verifier.passed


def episode_id(task_id: str, sample: int) -> str:
    return f"{task_id}#{sample}"


def append_trajectory(run_dir: Path, trajectory: Trajectory) -> None:
    """Append one record; a line is written whole with one ``write`` so a crash leaves at most a partial
    last line, which ``read_trajectories`` skips."""
    run_dir.mkdir(parents=True, exist_ok=True)
    line = trajectory.model_dump_json() + "\n"
    path = run_dir / TRAJECTORIES_FILE
    with path.open("a+b") as handle:
        # A line cut short by a crash must not swallow this record: start on a fresh line.
        if handle.tell() > 0:
            handle.seek(-1, 2)
            if handle.read(1) != b"\n":
                line = "\n" + line
        handle.write(line.encode())
        handle.flush()


def read_trajectories(path: Path) -> list[Trajectory]:
    """The records of a run directory (or of a ``.jsonl`` file); a later record of an episode replaces an
    earlier one, and a line cut short by a crash is skipped."""
    file = path / TRAJECTORIES_FILE if path.is_dir() else path
    if not file.exists():
        return []
    records: dict[str, Trajectory] = {}
    for line in file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = Trajectory.model_validate_json(line)
        except ValidationError:
            continue
        records[record.episode_id] = record
    return list(records.values())
