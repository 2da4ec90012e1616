"""Candidates (a proposed break with its oracle) and task records (a candidate that passed validation)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cligym.generation.operators.base import BreakStep, Category, Target

TASK_SCHEMA_VERSION = "cligym.task/1"
CheckName = Literal["builds", "breaks", "repo_untouched", "deterministic", "oracle_repairs"]


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


class Validation(BaseModel):
    """What validation found; ``rejected_by`` names the first check that failed (None: the task is valid)."""

    checks_passed: list[CheckName] = Field(default_factory=list)
    rejected_by: CheckName | None = None
    reason: str = ""
    fail_to_pass: list[str] = Field(default_factory=list)
    pass_to_pass: list[str] = Field(default_factory=list)
    image_tag: str | None = None
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
    created_at: datetime
