"""Harbor trials appended to a rollout run as trajectories (``source = "harbor"``), idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cligym.errors import CligymError
from cligym.rollout.harbor.conversation import Conversation, conversation_of, tool_definitions
from cligym.rollout.harbor.discovery import find_trial_dirs
from cligym.rollout.harbor.files import ATIF_FILE, RESULT_FILE, AtifTrajectory, TrialResult, Unreadable, read_model
from cligym.rollout.harbor.verdict import verifier_result
from cligym.rollout.task_dir import RolloutTask, load_task
from cligym.rollout.trajectory import SamplingConfig, Totals, Trajectory, append_trajectory, read_trajectories

TASK_NAME_PREFIX = "cligym/"


@dataclass(frozen=True)
class SkippedTrial:
    path: Path
    reason: str


@dataclass
class ImportSummary:
    """What one import did: records appended, trials already recorded, trials that could not be read."""

    imported: list[Trajectory] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    skipped_unreadable: list[SkippedTrial] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def import_harbor_jobs(job_dirs: list[Path], run_dir: Path) -> ImportSummary:
    """Append one record per finished trial under ``job_dirs`` (job directories, trial directories, or a
    directory of jobs) to ``run_dir``'s trajectories; trials already recorded there are left alone. A path
    that holds no Harbor trial is a ``CligymError``; a trial that cannot be read is skipped with a reason."""
    trial_dirs = find_trial_dirs(job_dirs)
    summary = ImportSummary()
    recorded = {trajectory.episode_id for trajectory in read_trajectories(run_dir)}
    unreadable_tasks: set[str] = set()
    for trial_dir in trial_dirs:
        try:
            result = read_model(trial_dir / RESULT_FILE, TrialResult)
            identifier = _episode_id(result)
            if identifier in recorded:
                summary.skipped_existing.append(identifier)
                continue
            trajectory, task_problem = _trajectory(trial_dir, result)
        except Unreadable as exc:
            summary.skipped_unreadable.append(SkippedTrial(trial_dir, str(exc)))
            continue
        if task_problem and task_problem not in unreadable_tasks:
            unreadable_tasks.add(task_problem)
            summary.warnings.append(f"{task_problem}: per-test statuses, repo and category are unknown")
        append_trajectory(run_dir, trajectory)
        recorded.add(identifier)
        summary.imported.append(trajectory)
    return summary


def task_id_of(task_name: str) -> str:
    return task_name.removeprefix(TASK_NAME_PREFIX)


def _episode_id(result: TrialResult) -> str:
    return f"{task_id_of(result.task_name)}#harbor-{result.trial_name}"


def _trajectory(trial_dir: Path, result: TrialResult) -> tuple[Trajectory, str]:
    """The record of one trial, and a problem with its task directory ("" when it was read)."""
    if result.finished_at is None:
        raise Unreadable(f"{RESULT_FILE} has no finished_at (the trial has not finished)")
    task, task_path, task_problem = _task(result)
    verifier = verifier_result(trial_dir, result, task)
    atif_path = trial_dir / ATIF_FILE
    atif = read_model(atif_path, AtifTrajectory) if atif_path.exists() else None
    conversation = conversation_of(atif, atif_path.parent) if atif is not None else Conversation()
    details = []
    if result.exception_info is not None:
        exception = result.exception_info
        details.append(f"Harbor recorded {exception.exception_type}: {exception.exception_message}")
    if atif is None:
        details.append(f"the agent wrote no ATIF trajectory ({ATIF_FILE})")
    if conversation.linked:
        details.append(f"read with {', '.join(conversation.linked)}")
    prompt_tokens, completion_tokens = conversation.prompt_tokens, conversation.completion_tokens
    if not prompt_tokens and not completion_tokens:
        prompt_tokens, completion_tokens = _reported_tokens(result, atif)
    finished_at = _aware(result.finished_at)
    started_at = _aware(result.started_at) if result.started_at else finished_at
    agent = _agent_name(result, atif)
    trajectory = Trajectory(
        episode_id=_episode_id(result),
        task_id=task_id_of(result.task_name),
        task_path=task_path,
        repo=task.repo if task else "",
        category=task.category if task else "",
        source="harbor",
        agent=agent,
        action_format="tool" if any(m.tool_calls for m in conversation.messages) else "text",
        sampling=_sampling(result, atif),
        tools=tool_definitions(atif),
        messages=conversation.messages,
        steps=conversation.steps,
        verifier=verifier,
        totals=Totals(
            steps=conversation.turns,
            commands=sum(1 for step in conversation.steps if step.command is not None),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=round((finished_at - started_at).total_seconds(), 2),
        ),
        termination_reason="imported",
        termination_detail="; ".join(details)[:1000],
        started_at=started_at,
        finished_at=finished_at,
    )
    return trajectory, task_problem


def _aware(moment: datetime) -> datetime:
    # Harbor writes some timestamps without a zone; they are UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _task(result: TrialResult) -> tuple[RolloutTask | None, str, str]:
    path = result.config.task.path or (result.task_id.path if result.task_id else None)
    if not path:
        return None, "", f"trial {result.trial_name} names no task directory"
    try:
        return load_task(Path(path)), path, ""
    except CligymError as exc:
        return None, path, f"task directory {path} cannot be read ({exc.message})"
    except (OSError, UnicodeDecodeError) as exc:
        return None, path, f"task directory {path} cannot be read ({exc})"


def _agent_name(result: TrialResult, atif: AtifTrajectory | None) -> str:
    if result.agent_info is not None:
        return result.agent_info.name
    return result.config.agent.name or (atif.agent.name if atif else "harbor")


def _sampling(result: TrialResult, atif: AtifTrajectory | None) -> SamplingConfig:
    agent = result.config.agent
    model = agent.model_name or ""
    info = result.agent_info.model_info if result.agent_info else None
    if not model and info is not None:
        model = f"{info.provider}/{info.name}" if info.provider else info.name
    if not model and atif is not None:
        model = atif.agent.model_name or ""
    base_url = agent.base_url or agent.options.get("api_base") or agent.options.get("base_url") or ""
    temperature = agent.options.get("temperature")
    return SamplingConfig(
        model=model,
        base_url=str(base_url),
        temperature=float(temperature) if isinstance(temperature, int | float) else None,
    )


def _reported_tokens(result: TrialResult, atif: AtifTrajectory | None) -> tuple[int, int]:
    """Totals from ATIF's final metrics or Harbor's agent result, for agents without per-step metrics."""
    final = atif.final_metrics if atif is not None else None
    if final is not None and (final.total_prompt_tokens or final.total_completion_tokens):
        return final.total_prompt_tokens or 0, final.total_completion_tokens or 0
    context = result.agent_result
    if context is not None:
        return context.n_input_tokens or 0, context.n_output_tokens or 0
    return 0, 0
