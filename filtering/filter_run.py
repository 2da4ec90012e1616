"""Filter a rollout run: every episode kept or dropped with the rule and reason that decided it.

Writes ``RUN/filter/kept.txt`` (the kept episode ids, one per line, what ``cligym dataset`` reads) and
``RUN/filter/decisions.jsonl`` (one decision per episode). Episodes meet the per-episode rules first
(filtering/rules.py); among those kept, exact duplicates and near-duplicates of an earlier episode of the
same task (the same conversation, or the same normalised command sequence) collapse into the first, and at
most ``max_per_task`` are kept per task. "First" is by task, then sample: re-running gives the same result.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from cligym.errors import CligymError
from cligym.filtering.rules import EpisodeRule, episode_rules, exact_signature, normalised_commands
from cligym.rollout.trajectory import Trajectory, read_trajectories

FILTER_DIR = "filter"
KEPT_FILE = "kept.txt"
DECISIONS_FILE = "decisions.jsonl"
RUN_RULES = ("exact_duplicate", "near_duplicate", "max_per_task")


@dataclass(frozen=True)
class FilterConfig:
    min_steps: int = 1
    max_steps: int | None = None
    max_tokens: int | None = None
    max_per_task: int | None = None


DECISION_SCHEMA_VERSION = "cligym.filter-decision/1"


class Decision(BaseModel):
    """Why one episode was kept or dropped (``rule`` and ``reason`` empty when kept)."""

    model_config = ConfigDict(frozen=True)

    schema_version: str = DECISION_SCHEMA_VERSION
    episode_id: str
    task_id: str
    kept: bool
    rule: str = ""
    reason: str = ""

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value != DECISION_SCHEMA_VERSION:
            raise ValueError(f"written as {value!r}, this cligym reads {DECISION_SCHEMA_VERSION!r}")
        return value


def filter_trajectories(trajectories: list[Trajectory], config: FilterConfig) -> list[Decision]:
    """One decision per trajectory, in (task, sample) order."""
    rules = episode_rules(config.min_steps, config.max_steps, config.max_tokens)
    ordered = sorted(trajectories, key=lambda t: (t.task_id, t.sample, t.episode_id))
    decisions: list[Decision] = []
    exact: dict[tuple[str, str], str] = {}
    near: dict[tuple[str, tuple[str, ...]], str] = {}
    kept_per_task: defaultdict[str, int] = defaultdict(int)
    for trajectory in ordered:
        decision = _episode_decision(trajectory, rules)
        if decision is None:
            decision = _run_decision(trajectory, config, exact, near, kept_per_task)
        decisions.append(decision)
    return decisions


def _episode_decision(trajectory: Trajectory, rules: list[EpisodeRule]) -> Decision | None:
    for rule in rules:
        reason = rule.check(trajectory)
        if reason is not None:
            return Decision(
                episode_id=trajectory.episode_id, task_id=trajectory.task_id, kept=False, rule=rule.name, reason=reason
            )
    return None


def _run_decision(
    trajectory: Trajectory,
    config: FilterConfig,
    exact: dict[tuple[str, str], str],
    near: dict[tuple[str, tuple[str, ...]], str],
    kept_per_task: defaultdict[str, int],
) -> Decision:
    task = trajectory.task_id
    drop = Decision(episode_id=trajectory.episode_id, task_id=task, kept=False)
    exact_key = (task, exact_signature(trajectory))
    if exact_key in exact:
        return drop.model_copy(update={"rule": "exact_duplicate", "reason": f"same as {exact[exact_key]}"})
    near_key = (task, normalised_commands(trajectory))
    if near_key in near:
        reason = f"same command sequence as {near[near_key]}"
        return drop.model_copy(update={"rule": "near_duplicate", "reason": reason})
    if config.max_per_task is not None and kept_per_task[task] >= config.max_per_task:
        reason = f"{config.max_per_task} episodes of this task already kept"
        return drop.model_copy(update={"rule": "max_per_task", "reason": reason})
    exact[exact_key] = near[near_key] = trajectory.episode_id
    kept_per_task[task] += 1
    return Decision(episode_id=trajectory.episode_id, task_id=task, kept=True)


def filter_run(run_dir: Path, config: FilterConfig) -> list[Decision]:
    """Filter the run's trajectories and write the kept ids and every decision."""
    trajectories = read_trajectories(run_dir)
    if not trajectories:
        raise CligymError(f"no trajectories in {run_dir}", "run `cligym rollout TASKS --out RUN` (or rollout-import)")
    decisions = filter_trajectories(trajectories, config)
    out = run_dir / FILTER_DIR
    out.mkdir(parents=True, exist_ok=True)
    _write(out / KEPT_FILE, "".join(f"{d.episode_id}\n" for d in decisions if d.kept))
    _write(out / DECISIONS_FILE, "".join(d.model_dump_json() + "\n" for d in decisions))
    return decisions


def read_decisions(run_dir: Path) -> list[Decision]:
    path = run_dir / FILTER_DIR / DECISIONS_FILE
    if not path.exists():
        raise CligymError(f"{run_dir} has not been filtered yet", "run `cligym filter RUN` first")
    decisions = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            decisions.append(Decision.model_validate_json(line))
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            hint = "run `cligym filter RUN` again"
            raise CligymError(f"{path}:{number}: not a filter decision ({problem})", hint) from None
    return decisions


def _write(path: Path, text: str) -> None:
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(text)
    partial.replace(path)
