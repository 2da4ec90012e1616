"""Candidates (a proposed break with its oracle) and task records (a candidate that passed validation)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cligym.generation.operators.base import BreakStep, Category, Target

TASK_SCHEMA_VERSION = "cligym.task/2"
ATTEMPT_SCHEMA_VERSION = "cligym.attempt/1"
CheckName = Literal["builds", "breaks", "near_duplicate", "repo_untouched", "deterministic", "oracle_repairs"]
# What validation ran, in order: a candidate rejected by the fast check never reaches "full_suite".
StageName = Literal["build", "expected_tests", "full_suite", "second_run", "oracle", "depth_sweep"]
# Rejections outside validation's checks: the inverter proposed nothing usable (an agent out of budget),
# validation itself could not finish (the container vanished...), the run found a near-duplicate, or the
# statement writer could not avoid naming the cause.
RejectionName = CheckName | Literal["no_proposal", "validation_error", "statement_leak"]

# An exported task's hinted variant is the same broken environment under this suffix.
HINTED_SUFFIX = "-hinted"


def exported_task_name(task_id: str, hinted: bool) -> str:
    """The name a task is exported under: its id, or its hinted variant's."""
    return task_id + HINTED_SUFFIX if hinted else task_id


def broken_environment_of(task_name: str) -> str:
    """The task id behind an exported task's name: a task and its hinted variant share it, and so must share
    a dataset split (else validation measures memorisation of the same repair)."""
    return task_name.removesuffix(HINTED_SUFFIX)


class Provenance(BaseModel):
    """Where a candidate came from and what it cost to propose (zero for the catalog)."""

    model_config = ConfigDict(frozen=True)

    model: str | None = Field(None, description="The model that proposed it (agent inverter).")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    steps: int = Field(0, description="Model turns spent on the proposal.")
    seconds: float = 0.0
    commands: list[str] = Field(default_factory=list, description="Every shell command run while searching.")
    parents: list[str] = Field(default_factory=list, description="Inverters of the candidates combined here.")

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Candidate(BaseModel):
    """A proposed break of one gold environment: the steps, the tests they aim at, and the repair."""

    model_config = ConfigDict(frozen=True)

    repo: str
    category: Category
    inverter: str = Field(description="'catalog:<operator>' or 'agent:<model>'.")
    target: Target | None = None
    seed: int = 0
    description: str
    break_steps: list[BreakStep]
    repair_commands: list[str]
    secondary_category: Category | None = Field(None, description="The second fault's category (combinations).")
    expected_failures: list[str] | None = Field(
        None,
        description="Gold tests the per-test probe expects the break to fail; None: unknown, or every test.",
    )
    provenance: Provenance = Field(default_factory=Provenance)

    @property
    def categories(self) -> tuple[Category, ...]:
        return (self.category,) if self.secondary_category is None else (self.category, self.secondary_category)


class Validation(BaseModel):
    """What validation found; ``rejected_by`` names the first check that failed (None: the task is valid)."""

    checks_passed: list[CheckName] = Field(default_factory=list)
    stages: list[StageName] = Field(default_factory=list, description="What ran, in order.")
    rejected_by: CheckName | None = None
    reason: str = ""
    fail_to_pass: list[str] = Field(default_factory=list)
    pass_to_pass: list[str] = Field(default_factory=list)
    image_tag: str | None = None
    shallow: bool | None = Field(
        None, description="True: the diagnosis-free repair sweep repairs it; None: the sweep did not run."
    )
    failure_messages: dict[str, str] = Field(
        default_factory=dict, description="The error each F2P test reported in the broken image (first lines)."
    )
    seconds: dict[str, float] = Field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.rejected_by is None


class TaskRecord(BaseModel):
    """A validated repair task: broken image, the tests that must pass again, a known repair, the statement."""

    schema_version: str = TASK_SCHEMA_VERSION
    task_id: str
    candidate: Candidate
    gold_image: str
    task_dockerfile: str
    validation: Validation
    statement: str
    statement_with_hint: str
    statement_author: str = Field("template", description="template, or model:<name> for model-written ones.")
    created_at: datetime


class Attempt(BaseModel):
    """One judged candidate of a generation run, valid or not: the run's history, its resume point and the
    report's source (``attempts/<repo>.jsonl``, one per line)."""

    schema_version: str = ATTEMPT_SCHEMA_VERSION
    repo: str
    key: str = Field(description="Hash of the candidate; a candidate is judged once per run.")
    candidate: Candidate
    validation: Validation
    rejected_by: RejectionName | None = None
    reason: str = ""
    task_id: str | None = Field(None, description="Set when the candidate became a task.")
    disk_bytes_added: int | None = Field(None, description="Bytes the break layers add to the gold image.")
    statement_prompt_tokens: int = Field(0, description="Tokens a model spent writing statements.")
    statement_completion_tokens: int = 0
    started_at: datetime
    finished_at: datetime

    @property
    def valid(self) -> bool:
        return self.task_id is not None
