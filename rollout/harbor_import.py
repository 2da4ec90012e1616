"""Import Harbor job directories into our trajectory record, so episodes rolled out with Harbor's agents go
through the same filtering and dataset building as ours (``source = "harbor"``).

A Harbor job directory holds one directory per trial; each trial leaves ``result.json`` (task, agent,
timestamps, verifier rewards), ``config.json``, ``agent/`` (``trajectory.json`` in ATIF when the agent writes
one) and ``verifier/`` (``reward.txt``, and for our exported tasks ``pytest-report.json``).

How a trial becomes a record:

- ``episode_id`` is ``<task id>#harbor-<trial name>``: Harbor's trial names carry a random suffix, so they
  are unique across jobs and a re-import finds the same ids (the import is idempotent).
- ``messages`` come from the ATIF steps: system and user steps as they are, an agent step as an assistant
  message with its ``tool_calls``, then one ``tool`` message per call. An observation result names the call
  it answers; one that names none (Terminus batches several commands into one terminal read) answers the
  first call left unanswered, and a call nothing answers gets an empty result. An agent step without tool
  calls has its observation sent back as the next user message, as text agents do.
- ``steps``: one per tool call (one per turn without calls), ``index`` the model turn, tokens on a turn's
  first step. A call is a command when its arguments carry ``command``, ``cmd`` or ``keystrokes``. ATIF
  records neither exit codes nor command durations, so those stay unknown.
- A trial whose agent wrote no ATIF file (oracle, nop, agents without a converter) is imported with no
  messages or steps: its verdict still counts for pass rates, and the filter's length rule drops it from
  datasets.
- A trial with no verifier reward (unfinished, or Harbor failed before judging) is skipped with a reason:
  a record without a verdict cannot be filtered, and a later re-import picks it up once it has one.
- Per-test statuses need the task's ``tests/expected.json``, read from the task path Harbor recorded; when
  that directory is gone the record has the reward only, and the summary says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from cligym.errors import CligymError
from cligym.generation.gold.harness import HARNESS_PREFIX
from cligym.generation.gold.junit import parse_pytest_report
from cligym.rollout.task_dir import RolloutTask, load_task
from cligym.rollout.trajectory import (
    SamplingConfig,
    Step,
    TestStatus,
    Totals,
    Trajectory,
    VerifierResult,
    append_trajectory,
    read_trajectories,
)

RESULT_FILE = "result.json"
CONFIG_FILE = "config.json"
ATIF_FILE = Path("agent") / "trajectory.json"
VERIFIER_DIR = "verifier"
TASK_NAME_PREFIX = "cligym/"
COMMAND_ARGUMENTS = ("command", "cmd", "keystrokes")
OUTPUT_TAIL_CHARS = 4000
_Model = TypeVar("_Model", bound=BaseModel)
NOT_A_JOB_HINT = "pass a job directory (jobs/<timestamp>), one trial directory in it, or the jobs directory"


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


class _Unreadable(Exception):
    """A trial that cannot be imported; the message names the file and why."""


# -- Harbor's files, only the parts read here (extra keys ignored: Harbor adds fields often) -----------------


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


class _TrialResult(_Lenient):
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


class _AtifPart(_Lenient):
    type: str
    text: str | None = None
    source: dict[str, Any] | None = None


_AtifContent = str | list[_AtifPart] | None


class _AtifToolCall(_Lenient):
    tool_call_id: str
    function_name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class _AtifResult(_Lenient):
    source_call_id: str | None = None
    content: _AtifContent = None


class _AtifObservation(_Lenient):
    results: list[_AtifResult] = Field(default_factory=list)


class _AtifMetrics(_Lenient):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class _AtifStep(_Lenient):
    step_id: int
    source: Literal["system", "user", "agent"]
    message: _AtifContent = ""
    reasoning_content: str | None = None
    tool_calls: list[_AtifToolCall] | None = None
    observation: _AtifObservation | None = None
    metrics: _AtifMetrics | None = None


class _AtifAgent(_Lenient):
    name: str
    model_name: str | None = None
    tool_definitions: list[dict[str, Any]] | None = None


class _AtifFinalMetrics(_Lenient):
    total_prompt_tokens: int | None = None
    total_completion_tokens: int | None = None


class _AtifTrajectory(_Lenient):
    schema_version: str
    agent: _AtifAgent
    steps: list[_AtifStep] = Field(min_length=1)
    final_metrics: _AtifFinalMetrics | None = None
    continued_trajectory_ref: str | None = None

    @field_validator("schema_version")
    @classmethod
    def _is_atif(cls, value: str) -> str:
        if not value.startswith("ATIF-"):
            raise ValueError(f"not an ATIF schema version: {value!r}")
        return value


# -- the import --------------------------------------------------------------------------------------------


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
            result = _read_model(trial_dir / RESULT_FILE, _TrialResult)
            identifier = _episode_id(result)
            if identifier in recorded:
                summary.skipped_existing.append(identifier)
                continue
            trajectory, task_problem = _trajectory(trial_dir, result)
        except _Unreadable as exc:
            summary.skipped_unreadable.append(SkippedTrial(trial_dir, str(exc)))
            continue
        if task_problem and task_problem not in unreadable_tasks:
            unreadable_tasks.add(task_problem)
            summary.warnings.append(f"{task_problem}: per-test statuses, repo and category are unknown")
        append_trajectory(run_dir, trajectory)
        recorded.add(identifier)
        summary.imported.append(trajectory)
    return summary


def find_trial_dirs(paths: list[Path]) -> list[Path]:
    """The trial directories named, or under the job directories (or directory of jobs) named."""
    trials: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise CligymError(f"{path} is not a directory", NOT_A_JOB_HINT)
        if _is_trial_dir(path):
            trials.append(path)
            continue
        found = _trial_children(path) or [trial for job in _subdirs(path) for trial in _trial_children(job)]
        if not found:
            raise CligymError(f"{path} is not a Harbor job or trial directory (no trial found in it)", NOT_A_JOB_HINT)
        trials.extend(found)
    return list(dict.fromkeys(path.resolve() for path in trials))


def _is_trial_dir(path: Path) -> bool:
    # A job directory has config.json too; only a trial has agent/ (made when it starts) or trial.log.
    return (path / CONFIG_FILE).is_file() and ((path / "agent").is_dir() or (path / "trial.log").is_file())


def _subdirs(path: Path) -> list[Path]:
    return sorted(child for child in path.iterdir() if child.is_dir())


def _trial_children(path: Path) -> list[Path]:
    return [child for child in _subdirs(path) if _is_trial_dir(child)]


def _read_model(path: Path, model: type[_Model]) -> _Model:
    if not path.is_file():
        detail = " (the trial has not finished)" if path.name == RESULT_FILE else ""
        raise _Unreadable(f"{path.name} is missing{detail}")
    try:
        return model.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        raise _Unreadable(f"{_relative(path)} is not valid ({where}: {first['msg']})") from None
    except OSError as exc:
        raise _Unreadable(f"{_relative(path)} cannot be read ({exc.strerror or exc})") from None


def _relative(path: Path) -> str:
    """The path from the trial directory, which the skipped trial's row already names."""
    return path.name if path.parent.name != "agent" else f"agent/{path.name}"


def task_id_of(task_name: str) -> str:
    return task_name.removeprefix(TASK_NAME_PREFIX)


def _episode_id(result: _TrialResult) -> str:
    return f"{task_id_of(result.task_name)}#harbor-{result.trial_name}"


def _trajectory(trial_dir: Path, result: _TrialResult) -> tuple[Trajectory, str]:
    """The record of one trial, and a problem with its task directory ("" when it was read)."""
    if result.finished_at is None:
        raise _Unreadable(f"{RESULT_FILE} has no finished_at (the trial has not finished)")
    task, task_path, task_problem = _task(result)
    verifier = _verifier(trial_dir, result, task)
    atif_path = trial_dir / ATIF_FILE
    atif = _read_model(atif_path, _AtifTrajectory) if atif_path.exists() else None
    conversation = _conversation(atif) if atif is not None else _Conversation()
    details = []
    if result.exception_info is not None:
        exception = result.exception_info
        details.append(f"Harbor recorded {exception.exception_type}: {exception.exception_message}")
    if atif is None:
        details.append(f"the agent wrote no ATIF trajectory ({ATIF_FILE})")
    elif atif.continued_trajectory_ref:
        details.append(f"continued in {atif.continued_trajectory_ref} (not imported)")
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
        action_format="tool" if any(m.get("tool_calls") for m in conversation.messages) else "text",
        sampling=_sampling(result, atif),
        tools=_tools(atif),
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


def _task(result: _TrialResult) -> tuple[RolloutTask | None, str, str]:
    path = result.config.task.path or (result.task_id.path if result.task_id else None)
    if not path:
        return None, "", f"trial {result.trial_name} names no task directory"
    try:
        return load_task(Path(path)), path, ""
    except CligymError as exc:
        return None, path, f"task directory {path} cannot be read ({exc.message})"
    except (OSError, UnicodeDecodeError) as exc:
        return None, path, f"task directory {path} cannot be read ({exc})"


def _agent_name(result: _TrialResult, atif: _AtifTrajectory | None) -> str:
    if result.agent_info is not None:
        return result.agent_info.name
    return result.config.agent.name or (atif.agent.name if atif else "harbor")


def _sampling(result: _TrialResult, atif: _AtifTrajectory | None) -> SamplingConfig:
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


def _tools(atif: _AtifTrajectory | None) -> list[dict[str, Any]]:
    if atif is None or not atif.agent.tool_definitions:
        return []
    # ATIF allows the bare function object as well as OpenAI's {"type": "function", "function": ...}.
    return [
        tool if "function" in tool else {"type": "function", "function": tool} for tool in atif.agent.tool_definitions
    ]


def _reported_tokens(result: _TrialResult, atif: _AtifTrajectory | None) -> tuple[int, int]:
    """Totals from ATIF's final metrics or Harbor's agent result, for agents without per-step metrics."""
    final = atif.final_metrics if atif is not None else None
    if final is not None and (final.total_prompt_tokens or final.total_completion_tokens):
        return final.total_prompt_tokens or 0, final.total_completion_tokens or 0
    context = result.agent_result
    if context is not None:
        return context.n_input_tokens or 0, context.n_output_tokens or 0
    return 0, 0


# -- ATIF to messages and steps ----------------------------------------------------------------------------


@dataclass
class _Conversation:
    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _conversation(atif: _AtifTrajectory) -> _Conversation:
    conversation = _Conversation()
    for step in atif.steps:
        if step.source == "agent":
            _agent_turn(conversation, step)
        else:
            conversation.messages.append({"role": step.source, "content": _text(step.message)})
    return conversation


def _agent_turn(conversation: _Conversation, step: _AtifStep) -> None:
    conversation.turns += 1
    metrics = step.metrics or _AtifMetrics()
    prompt_tokens, completion_tokens = metrics.prompt_tokens or 0, metrics.completion_tokens or 0
    conversation.prompt_tokens += prompt_tokens
    conversation.completion_tokens += completion_tokens
    calls = step.tool_calls or []
    message: dict[str, Any] = {"role": "assistant", "content": _text(step.message)}
    if step.reasoning_content:
        message["reasoning_content"] = step.reasoning_content
    if calls:
        message["tool_calls"] = [
            {
                "id": call.tool_call_id,
                "type": "function",
                "function": {"name": call.function_name, "arguments": json.dumps(call.arguments)},
            }
            for call in calls
        ]
    conversation.messages.append(message)
    results = step.observation.results if step.observation else []
    if not calls:
        feedback = "\n".join(text for text in (_text(r.content) for r in results) if text)
        if feedback:
            conversation.messages.append({"role": "user", "content": feedback})
        conversation.steps.append(
            Step(
                index=conversation.turns,
                output=feedback,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
        )
        return
    answers = _answers(calls, results)
    for position, call in enumerate(calls):
        output = answers[call.tool_call_id]
        conversation.messages.append({"role": "tool", "tool_call_id": call.tool_call_id, "content": output})
        conversation.steps.append(
            Step(
                index=conversation.turns,
                command=_command(call),
                output=output,
                tool_call_id=call.tool_call_id,
                prompt_tokens=prompt_tokens if position == 0 else 0,  # a turn's tokens are counted once
                completion_tokens=completion_tokens if position == 0 else 0,
            )
        )


def _answers(calls: list[_AtifToolCall], results: list[_AtifResult]) -> dict[str, str]:
    """Each call's result text: its own results, then results that name no call fill unanswered calls."""
    answers: dict[str, list[str]] = {call.tool_call_id: [] for call in calls}
    unlinked: list[str] = []
    for result in results:
        text = _text(result.content)
        if result.source_call_id in answers:
            answers[result.source_call_id].append(text)
        else:
            unlinked.append(text)
    if unlinked:
        first_unanswered = next((key for key, texts in answers.items() if not texts), calls[-1].tool_call_id)
        answers[first_unanswered].extend(unlinked)
    return {key: "\n".join(texts) for key, texts in answers.items()}


def _command(call: _AtifToolCall) -> str | None:
    for name in COMMAND_ARGUMENTS:
        value = call.arguments.get(name)
        # Terminus sends keystrokes; the newline that submits them is not part of the command.
        if isinstance(value, str) and value.strip():
            return value.rstrip("\n")
    return None


def _text(content: _AtifContent) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if part.type == "text":
            parts.append(part.text or "")
        else:
            parts.append(f"[{part.type}: {(part.source or {}).get('path', '')}]")
    return "\n".join(parts)


# -- the verifier's verdict --------------------------------------------------------------------------------


def _verifier(trial_dir: Path, result: _TrialResult, task: RolloutTask | None) -> VerifierResult:
    verifier_dir = trial_dir / VERIFIER_DIR
    reward = _recorded_reward(result)
    if reward is None:
        reward = _reward_file(verifier_dir)
    if reward is None:
        why = f"Harbor recorded {result.exception_info.exception_type}" if result.exception_info else "no reward found"
        raise _Unreadable(f"no verifier reward in {RESULT_FILE} or {VERIFIER_DIR}/reward.txt ({why})")
    fail_to_pass = list(task.fail_to_pass) if task else []
    pass_to_pass = list(task.pass_to_pass) if task else []
    outcomes = _test_outcomes(verifier_dir / "pytest-report.json")
    statuses: dict[str, TestStatus] = {}
    for test in [*fail_to_pass, *pass_to_pass]:
        status = outcomes.get(test)
        statuses[test] = "missing" if status is None else "passed" if status == "passed" else "failed"
    timing = result.verifier
    seconds = 0.0
    if timing is not None and timing.started_at and timing.finished_at:
        seconds = round((timing.finished_at - timing.started_at).total_seconds(), 2)
    output = _optional_text(verifier_dir / "pytest-output.txt") or _optional_text(verifier_dir / "test-stdout.txt")
    return VerifierResult(
        reward=reward,
        tests=statuses,
        fail_to_pass=fail_to_pass,
        pass_to_pass=pass_to_pass,
        seconds=seconds,
        output_tail=output[-OUTPUT_TAIL_CHARS:],
        harness_modified=[
            line.removeprefix(HARNESS_PREFIX)
            for line in _optional_text(verifier_dir / "harness.txt").splitlines()
            if line.startswith(HARNESS_PREFIX)
        ],
    )


def _recorded_reward(result: _TrialResult) -> float | None:
    verdicts = [result.verifier_result] + [step.verifier_result for step in reversed(result.step_results or [])]
    for verdict in verdicts:
        rewards = verdict.rewards if verdict is not None else None
        if not rewards:
            continue
        # Harbor names the reward.txt value "reward"; a reward.json with one entry is that entry.
        if "reward" in rewards:
            return float(rewards["reward"])
        if len(rewards) == 1:
            return float(next(iter(rewards.values())))
    return None


def _reward_file(verifier_dir: Path) -> float | None:
    text = _optional_text(verifier_dir / "reward.txt").strip()
    try:
        return float(text.splitlines()[-1]) if text else None
    except ValueError:
        return None


def _test_outcomes(report: Path) -> dict[str, str]:
    text = _optional_text(report)
    if not text:
        return {}
    try:
        return {outcome.test_id: outcome.status for outcome in parse_pytest_report(text)}
    except CligymError:
        return {}


def _optional_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
