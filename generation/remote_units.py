"""Generation's work units for nodes that share nothing with the coordinator but the cluster.

A gold build carries its spec (and a local source tree, packed) and returns the record with the node's gold
directory (context, logs) packed for the coordinator to write. A validation or an agent proposal carries
the gold record and its build context: a node without the gold image pulls it from the registry the run
pushed it to, or builds it from the context once (tagged by spec hash, like everywhere else). Units write
nothing the coordinator reads; it alone writes the run directory and its state.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from docker.errors import DockerException

from cligym.base_images import ensure_base_image
from cligym.docker_connection import docker_client
from cligym.errors import CligymError
from cligym.executor.shipping import pack_dir, shipped_root, unpack_once
from cligym.generation.export import push_gold_image
from cligym.generation.gold import GoldRecord
from cligym.generation.gold.build import ROLE_GOLD, build_gold_from_spec, gold_dir, image_exists
from cligym.generation.inverters.agent import agent_inverter_from_settings
from cligym.generation.repo_spec import LocalSource, RepoSpec
from cligym.generation.task_record import Attempt, Candidate, Validation
from cligym.generation.validation import validate_candidate
from cligym.image_build import build_image
from cligym.labels import cligym_labels
from cligym.settings import Settings


@dataclass(frozen=True)
class GoldJob:
    spec: RepoSpec
    source_archive: bytes | None  # a local source tree; other sources are fetched by the node itself
    previous_record: str | None  # the coordinator's record.json: reused when the node has the image
    settings: Settings
    rebuild: bool
    registry: str | None


@dataclass(frozen=True)
class GoldResult:
    record: GoldRecord
    gold_archive: bytes
    reference: str | None  # where the node pushed the gold image, with a registry


@dataclass(frozen=True)
class GoldOnNode:
    """What a unit needs to have the gold environment on whichever node it lands."""

    record: GoldRecord
    context_archive: bytes
    reference: str | None


@dataclass(frozen=True)
class ValidationJob:
    gold: GoldOnNode
    candidate: Candidate
    settings: Settings
    run_id: str


@dataclass(frozen=True)
class ValidationResult:
    validation: Validation
    image_bytes: int | None  # the task image's size on the node, for the disk the task adds

    @classmethod
    def measured(cls, validation: Validation) -> ValidationResult:
        """The validation with its task image's size on this Docker host (valid candidates only)."""
        size = None
        if validation.valid and validation.image_tag:
            with contextlib.suppress(DockerException):
                size = int(docker_client().images.get(validation.image_tag).attrs["Size"])
        return cls(validation, size)


@dataclass(frozen=True)
class ProposalJob:
    gold: GoldOnNode
    history: list[Attempt]
    settings: Settings
    run_id: str


def build_gold_job(job: GoldJob) -> GoldResult:
    """Build (or reuse) the gold environment on this node, in a scratch run directory."""
    scratch = Path(tempfile.mkdtemp(prefix="cligym-gold-"))
    try:
        spec = job.spec
        if job.source_archive is not None:
            source = unpack_once(job.source_archive, spec.name)
            spec = spec.model_copy(update={"source": LocalSource(path=str(source))})
        out_dir = gold_dir(scratch, spec.name)
        if job.previous_record is not None:
            out_dir.mkdir(parents=True)
            (out_dir / "record.json").write_text(job.previous_record)
        record = build_gold_from_spec(spec, scratch, job.settings, scratch, lambda _: None, rebuild=job.rebuild)
        reference = push_gold_image(record, job.registry) if job.registry else None
        return GoldResult(record=record, gold_archive=pack_dir(out_dir), reference=reference)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def validate_job(job: ValidationJob) -> ValidationResult:
    ensure_gold_image(job.gold, job.settings)
    return ValidationResult.measured(
        validate_candidate(job.gold.record, job.candidate, job.settings, run_id=job.run_id)
    )


def propose_job(job: ProposalJob) -> Candidate | None:
    """One agent proposal (a model with a shell in a gold container) on this node."""
    ensure_gold_image(job.gold, job.settings)
    return agent_inverter_from_settings(job.settings, job.run_id).propose(job.gold.record, job.history)


def ensure_gold_image(gold: GoldOnNode, settings: Settings) -> None:
    """The gold image on this node: present, pulled from the run's registry, or built from its context.
    One unit per node builds it; the others wait for it on a lock file."""
    tag = gold.record.image.tag
    if image_exists(tag):
        return
    lock_path = shipped_root() / "locks" / (tag.replace("/", "_").replace(":", "_") + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(tag):
            return
        if gold.reference:
            _pull_as(gold.reference, tag)
            return
        if gold.record.spec.base_image is None:
            ensure_base_image(settings.base_image)
        context = unpack_once(gold.context_archive, "context")
        build_image(
            context,
            tag,
            labels=cligym_labels(ROLE_GOLD)
            | {"io.cligym.gold": gold.record.name, "io.cligym.spec-hash": gold.record.spec_hash},
        )


def _pull_as(reference: str, tag: str) -> None:
    repository, _, version = reference.rpartition(":")
    try:
        image = docker_client().images.pull(repository, tag=version)
    except DockerException as exc:
        raise CligymError(
            f"cannot pull the gold image {reference}: {exc}", "is the registry reachable from the node?"
        ) from None
    image.tag(*tag.rsplit(":", 1))
