"""A real validated task, shared by the export and report tests: the bundled inventory example's gold
environment, and a catalog break of the SQLite library its tests load, validated in real containers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from docker.errors import DockerException

from cligym.base_images import BaseImage
from cligym.docker_connection import docker_client
from cligym.generation.export import push_gold_image
from cligym.generation.gold import GoldRecord, build_gold
from cligym.generation.gold.build import gold_dir
from cligym.generation.inverters.catalog import all_catalog_candidates
from cligym.generation.statements.templates import write_statement
from cligym.generation.task_record import Candidate, TaskRecord, Validation
from cligym.generation.validation import validate_candidate
from cligym.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ValidatedTask:
    gold: GoldRecord
    task: TaskRecord
    run_dir: Path
    started_at: datetime
    finished_at: datetime

    @property
    def gold_context(self) -> Path:
        return gold_dir(self.run_dir, self.gold.name) / "context"


@pytest.fixture(scope="session")
def validated_task(base_image: BaseImage, tmp_path_factory: pytest.TempPathFactory) -> ValidatedTask:
    run_dir = tmp_path_factory.mktemp("run")
    settings = load_settings()
    gold = build_gold(REPO / "configs" / "repos" / "inventory.yaml", settings, run_dir, lambda _: None)
    candidate = next(
        c
        for c in all_catalog_candidates(gold)
        if c.inverter == "catalog:soname-link-redirected" and c.target and "libsqlite3" in c.target.label()
    )
    started = datetime.now(UTC)
    validation = validate_candidate(gold, candidate, settings)
    assert validation.valid, validation.reason
    task = task_record("inventory-sqlite-soname", gold, candidate, validation)
    return ValidatedTask(gold, task, run_dir, started, datetime.now(UTC))


def validated_catalog_task(gold: GoldRecord, inverter: str, target: str, task_id: str) -> TaskRecord:
    """The catalog candidate of ``inverter`` aimed at a target whose label holds ``target``, validated in real
    containers (it must be valid), as a task record."""
    candidate = next(
        c for c in all_catalog_candidates(gold) if c.inverter == inverter and c.target and target in c.target.label()
    )
    validation = validate_candidate(gold, candidate, load_settings())
    assert validation.valid, validation.reason
    return task_record(task_id, gold, candidate, validation)


def task_record(task_id: str, gold: GoldRecord, candidate: Candidate, validation: Validation) -> TaskRecord:
    """A validated candidate as the task record generation writes, with template statements."""
    return TaskRecord(
        task_id=task_id,
        candidate=candidate,
        gold_image=gold.image.tag,
        task_dockerfile="",
        validation=validation,
        statement=write_statement(gold, candidate, validation, "bug_report", hint=False),
        statement_with_hint=write_statement(gold, candidate, validation, "bug_report", hint=True),
        created_at=datetime.now(UTC),
    )


@pytest.fixture
def registry_reference(validated_task: ValidatedTask, local_registry: str) -> Iterator[str]:
    """The gold image pushed to a real registry on 127.0.0.1, with its local tag under the registry's name
    removed: a build ``FROM`` the reference pulls it from the registry, as on a machine that never built it."""
    reference = push_gold_image(validated_task.gold, f"{local_registry}/team")
    docker_client().images.remove(reference)  # only this tag: the gold image keeps its own
    yield reference
    with contextlib.suppress(DockerException):
        docker_client().images.remove(reference)
