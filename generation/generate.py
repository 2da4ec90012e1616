"""Generation runs: from repo specs to validated, exported repair tasks, resumable through the run directory.

Per repository: build (or reuse) the gold environment, then ask the inverter for candidates one at a time,
validate each, and keep the valid ones that are not near-duplicates as tasks. Every judged candidate is
appended to ``attempts/<repo>.jsonl`` (the inverter's feedback, the resume point and the report's source);
the run state records each as a unit for ``cligym status``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from docker.errors import DockerException

from cligym.docker_connection import docker_client
from cligym.errors import CligymError
from cligym.generation.attempt_log import append_attempt, read_attempts
from cligym.generation.catalog_inverter import candidate_key
from cligym.generation.export import export_harbor_task, export_terminal_bench_task, push_gold_image
from cligym.generation.gold import GoldRecord, build_gold
from cligym.generation.gold.build import gold_dir
from cligym.generation.inverter import Inverter
from cligym.generation.statement import pick_style
from cligym.generation.statement_writer import StatementLeakWithUsage, StatementWriter, WrittenStatements
from cligym.generation.task_record import Attempt, Candidate, RejectionName, TaskRecord, Validation
from cligym.generation.validation import validate_candidate
from cligym.llm import TokenUsage
from cligym.run_state import RunState
from cligym.settings import Settings

CANDIDATE_STAGE = "candidate"
ExportFormat = Literal["harbor", "terminal-bench"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("harbor", "terminal-bench")
Progress = Callable[[str], None]
Signature = tuple[tuple[str, ...], tuple[str, ...]]


@dataclass
class RepoGeneration:
    """What one repository's generation produced (this run, resumed parts included)."""

    repo: str
    tasks: list[TaskRecord] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    candidates: int = 0


def generate_for_spec(
    spec_path: Path,
    settings: Settings,
    run_dir: Path,
    state: RunState,
    tasks_wanted: int,
    inverter: Inverter,
    progress: Progress,
    max_attempts: int | None = None,
    exports: Sequence[ExportFormat] = EXPORT_FORMATS,
    gold_registry: str | None = None,
    statement_writer: StatementWriter | None = None,
) -> RepoGeneration:
    """Build the gold environment, then judge candidates until ``tasks_wanted`` tasks are valid, the inverter
    has nothing left, or ``max_attempts`` candidates were judged for this repository in this run.

    Valid tasks are exported in each of ``exports``; with ``gold_registry`` the gold image is pushed there
    and the exported Dockerfiles start FROM it instead of rebuilding the gold environment. Statements are
    written by ``statement_writer`` (the templates by default).
    """
    writer = statement_writer or StatementWriter()
    gold = build_gold(spec_path, settings, run_dir, progress)
    reference = None
    if gold_registry:
        progress(f"pushing the gold image to {gold_registry}")
        reference = push_gold_image(gold, gold_registry)
    exporter = _Exporter(gold, run_dir, exports, reference)
    history = read_attempts(run_dir, gold.name)
    outcome = RepoGeneration(repo=gold.name)
    signatures: set[Signature] = set()
    for attempt in history:
        _count(outcome, attempt, run_dir, signatures)
    while len(outcome.tasks) < tasks_wanted and (max_attempts is None or outcome.candidates < max_attempts):
        progress(f"{inverter.name}: proposing candidate {len(history) + 1}")
        candidate = inverter.propose(gold, history)
        if candidate is None:
            break
        attempt = _judge(gold, candidate, settings, run_dir, state, signatures, progress, exporter, writer)
        append_attempt(run_dir, attempt)
        history.append(attempt)
        _count(outcome, attempt, run_dir, signatures)
    return outcome


def _judge(
    gold: GoldRecord,
    candidate: Candidate,
    settings: Settings,
    run_dir: Path,
    state: RunState,
    signatures: set[Signature],
    progress: Progress,
    exporter: _Exporter,
    writer: StatementWriter,
) -> Attempt:
    """Validate one candidate; a valid one that is not a near-duplicate becomes a task and is exported."""
    key = candidate_key(candidate)
    unit = f"{gold.name}/{key}"
    started = datetime.now(UTC)
    state.start(CANDIDATE_STAGE, unit)
    target = candidate.target.label() if candidate.target else "-"

    def attempt(
        validation: Validation,
        rejected_by: RejectionName | None,
        reason: str = "",
        statements: TokenUsage | None = None,
        **extra: str | int | None,
    ) -> Attempt:
        spent = statements or TokenUsage()
        return Attempt(
            repo=gold.name,
            key=key,
            candidate=candidate,
            validation=validation,
            rejected_by=rejected_by,
            reason=reason,
            started_at=started,
            finished_at=datetime.now(UTC),
            statement_prompt_tokens=spent.prompt_tokens,
            statement_completion_tokens=spent.completion_tokens,
            **extra,  # type: ignore[arg-type]
        )

    if not candidate.break_steps:
        state.fail(CANDIDATE_STAGE, unit, f"rejected by no_proposal: {candidate.description}")
        return attempt(Validation(), "no_proposal", candidate.description)
    progress(f"validating {candidate.inverter} on {target}")
    try:
        validation = validate_candidate(
            gold, candidate, settings, run_id=run_dir.name, progress=lambda step: progress(f"{target}: {step}")
        )
    except CligymError as error:
        # One candidate whose validation cannot finish must not end the repository's search.
        state.fail(CANDIDATE_STAGE, unit, f"rejected by validation_error: {error.message}")
        return attempt(Validation(), "validation_error", error.message)
    rejection = _rejection(validation, candidate, signatures)
    spent = TokenUsage()
    if rejection is None:
        task_id = f"{gold.name}-{key}"
        try:
            written = writer.write(gold, candidate, validation, pick_style(task_id))
        except StatementLeakWithUsage as leak:
            rejection = ("statement_leak", str(leak))
            spent = leak.usage
        else:
            spent = written.usage
            if written.note:
                progress(written.note)
            task = _task_record(task_id, gold, candidate, validation, written)
    if rejection is not None:
        check, reason = rejection
        state.fail(CANDIDATE_STAGE, unit, f"rejected by {check}: {reason}")
        if check in ("near_duplicate", "statement_leak"):
            _remove_image(validation.image_tag)
        return attempt(validation, check, reason, spent)

    task_dir = run_dir / "tasks" / task.task_id
    task_dir.mkdir(parents=True, exist_ok=True)
    record_path = task_dir / "record.json"
    partial = record_path.with_suffix(".partial")
    partial.write_text(task.model_dump_json(indent=2))
    partial.replace(record_path)
    exporter.export(task)
    state.finish(CANDIDATE_STAGE, unit, record_path)
    return attempt(
        validation, None, task_id=task.task_id, disk_bytes_added=_disk_added(gold, validation), statements=spent
    )


class _Exporter:
    """Writes each valid task in the chosen formats, symptom-only and hinted."""

    def __init__(self, gold: GoldRecord, run_dir: Path, formats: Sequence[ExportFormat], reference: str | None) -> None:
        self.gold, self.run_dir, self.formats, self.reference = gold, run_dir, formats, reference
        self.context = gold_dir(run_dir, gold.name) / "context"

    def export(self, task: TaskRecord) -> None:
        for hinted in (False, True):
            if "harbor" in self.formats:
                export_harbor_task(
                    task, self.gold, self.context, self.run_dir / "harbor", hinted, gold_image_reference=self.reference
                )
            if "terminal-bench" in self.formats:
                export_terminal_bench_task(
                    task,
                    self.gold,
                    self.context,
                    self.run_dir / "terminal-bench",
                    hinted,
                    gold_image_reference=self.reference,
                )


def _count(outcome: RepoGeneration, attempt: Attempt, run_dir: Path, signatures: set[Signature]) -> None:
    outcome.candidates += 1
    if attempt.task_id is None:
        check = str(attempt.rejected_by)
        outcome.rejections[check] = outcome.rejections.get(check, 0) + 1
        return
    task = TaskRecord.model_validate_json((run_dir / "tasks" / attempt.task_id / "record.json").read_text())
    signatures.add(_signature(task.candidate, task.validation))
    outcome.tasks.append(task)


def _signature(candidate: Candidate, validation: Validation) -> Signature:
    return tuple(str(c) for c in candidate.categories), tuple(validation.fail_to_pass)


def _rejection(
    validation: Validation, candidate: Candidate, signatures: set[Signature]
) -> tuple[RejectionName, str] | None:
    if not validation.valid:
        assert validation.rejected_by is not None
        return validation.rejected_by, validation.reason
    if _signature(candidate, validation) in signatures:
        return "near_duplicate", "same categories and same failing tests as an earlier task of this repository"
    return None


def _task_record(
    task_id: str, gold: GoldRecord, candidate: Candidate, validation: Validation, written: WrittenStatements
) -> TaskRecord:
    return TaskRecord(
        task_id=task_id,
        candidate=candidate,
        gold_image=gold.image.tag,
        task_dockerfile=gold.dockerfile + "\n" + "\n".join(step.render() for step in candidate.break_steps) + "\n",
        validation=validation,
        statement=written.statement,
        statement_with_hint=written.statement_with_hint,
        statement_author=written.author,
        created_at=datetime.now(UTC),
    )


def _disk_added(gold: GoldRecord, validation: Validation) -> int | None:
    """What the break layers weigh on top of the gold image (the only disk a task adds)."""
    if validation.image_tag is None:
        return None
    try:
        size = int(docker_client().images.get(validation.image_tag).attrs["Size"])
    except DockerException:
        return None
    return max(0, size - gold.image.size_bytes)


def _remove_image(tag: str | None) -> None:
    if tag is not None:
        with contextlib.suppress(DockerException):
            docker_client().images.remove(tag, force=True)
