"""Generation runs: from repo specs to validated, exported repair tasks, resumable through the run state."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cligym.generation.catalog_inverter import all_catalog_candidates
from cligym.generation.export import export_harbor_task
from cligym.generation.gold import GoldRecord, build_gold
from cligym.generation.gold.build import gold_dir
from cligym.generation.statement import StatementLeak, pick_style, write_statement
from cligym.generation.task_record import Candidate, TaskRecord, Validation
from cligym.generation.validation import validate_candidate
from cligym.run_state import RunState
from cligym.settings import Settings

CANDIDATE_STAGE = "candidate"
Progress = Callable[[str], None]


@dataclass
class RepoGeneration:
    """What one repository's generation produced."""

    repo: str
    tasks: list[TaskRecord] = field(default_factory=list)
    rejections: dict[str, int] = field(default_factory=dict)
    candidates: int = 0


def candidate_key(candidate: Candidate) -> str:
    return hashlib.sha256(candidate.model_dump_json().encode()).hexdigest()[:16]


def ordered_candidates(gold: GoldRecord, seed: int) -> list[Candidate]:
    """All catalog candidates, shuffled, then interleaved across categories so that the first tasks of a
    repository cover as many categories as possible."""
    rng = random.Random(f"{gold.name}:{seed}")
    by_category: dict[str, list[Candidate]] = {}
    for candidate in all_catalog_candidates(gold, seed):
        by_category.setdefault(str(candidate.category), []).append(candidate)
    queues = [rng.sample(items, len(items)) for _, items in sorted(by_category.items())]
    rng.shuffle(queues)
    ordered: list[Candidate] = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


def generate_for_spec(
    spec_path: Path,
    settings: Settings,
    run_dir: Path,
    state: RunState,
    tasks_wanted: int,
    seed: int,
    progress: Progress,
) -> RepoGeneration:
    """Build the gold environment, then validate candidates until ``tasks_wanted`` tasks are valid.

    Candidates already judged in this run are not judged again; tasks whose failing-test set duplicates an
    earlier task of the same category are dropped as near-duplicates.
    """
    gold = build_gold(spec_path, settings, run_dir, progress)
    outcome = RepoGeneration(repo=gold.name)
    signatures: set[tuple[str, tuple[str, ...]]] = set()
    for candidate in ordered_candidates(gold, seed):
        if len(outcome.tasks) >= tasks_wanted:
            break
        key = f"{gold.name}/{candidate_key(candidate)}"
        record_path = run_dir / "tasks" / f"{gold.name}-{candidate_key(candidate)}" / "record.json"
        previous = state.get(CANDIDATE_STAGE, key)
        outcome.candidates += 1
        if previous is not None and previous.status == "done" and record_path.is_file():
            task = TaskRecord.model_validate_json(record_path.read_text())
            signatures.add((str(task.candidate.category), tuple(task.validation.fail_to_pass)))
            outcome.tasks.append(task)
            continue
        if previous is not None and previous.status == "failed" and previous.detail.startswith("rejected"):
            check = previous.detail.split(":", 1)[0].removeprefix("rejected by ")
            outcome.rejections[check] = outcome.rejections.get(check, 0) + 1
            continue
        state.start(CANDIDATE_STAGE, key)
        progress(f"validating {candidate.inverter} on {candidate.target.label() if candidate.target else '-'}")
        validation = validate_candidate(gold, candidate, settings, run_id=run_dir.name)
        reason = _rejection(validation, candidate, signatures)
        if reason is not None:
            check, detail = reason
            state.fail(CANDIDATE_STAGE, key, f"rejected by {check}: {detail}")
            outcome.rejections[check] = outcome.rejections.get(check, 0) + 1
            continue
        try:
            task = _task_record(gold, candidate, validation)
        except StatementLeak as leak:
            state.fail(CANDIDATE_STAGE, key, f"rejected by statement_leak: {leak}")
            outcome.rejections["statement_leak"] = outcome.rejections.get("statement_leak", 0) + 1
            continue
        task_dir = record_path.parent
        task_dir.mkdir(parents=True, exist_ok=True)
        partial = record_path.with_suffix(".partial")
        partial.write_text(task.model_dump_json(indent=2))
        partial.replace(record_path)
        context = gold_dir(run_dir, gold.name) / "context"
        for hinted in (False, True):
            export_harbor_task(task, gold, context, run_dir / "harbor", hinted=hinted)
        signatures.add((str(candidate.category), tuple(validation.fail_to_pass)))
        state.finish(CANDIDATE_STAGE, key, record_path)
        outcome.tasks.append(task)
    return outcome


def _rejection(
    validation: Validation, candidate: Candidate, signatures: set[tuple[str, tuple[str, ...]]]
) -> tuple[str, str] | None:
    if not validation.valid:
        return str(validation.rejected_by), validation.reason
    if (str(candidate.category), tuple(validation.fail_to_pass)) in signatures:
        return "near_duplicate", "same category and same failing tests as an earlier task of this repository"
    return None


def _task_record(gold: GoldRecord, candidate: Candidate, validation: Validation) -> TaskRecord:
    task_id = f"{gold.name}-{candidate_key(candidate)}"
    style = pick_style(task_id)
    statement = write_statement(gold, candidate, validation, style, hint=False)
    hinted = write_statement(gold, candidate, validation, style, hint=True)
    return TaskRecord(
        task_id=task_id,
        candidate=candidate,
        gold_image=gold.image.tag,
        task_dockerfile=gold.dockerfile + "\n" + "\n".join(step.render() for step in candidate.break_steps) + "\n",
        validation=validation,
        statement=statement,
        statement_with_hint=hinted,
        created_at=datetime.now(UTC),
    )
