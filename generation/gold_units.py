"""Gold builds through an executor: in this process (local), or as a unit on a cluster node whose gold
directory comes back to be written into the run directory here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cligym.errors import CligymError
from cligym.executor import Executor, UnitResources
from cligym.executor.shipping import pack_dir, unpack_into
from cligym.generation.export import push_gold_image
from cligym.generation.gold import GoldRecord, build_gold
from cligym.generation.gold.build import Progress, gold_dir
from cligym.generation.gold.source import fetch_source
from cligym.generation.remote_units import GoldJob, GoldOnNode, build_gold_job
from cligym.generation.repo_spec import LocalSource, load_repo_spec
from cligym.settings import Settings

# A gold build installs the project and runs its suite twice: give it room.
GOLD_RESOURCES = UnitResources(cpus=1.0, memory_mb=4096)


@dataclass(frozen=True)
class BuiltGold:
    record: GoldRecord
    reference: str | None  # the registry copy of the gold image, when the run pushes one

    def on_node(self, run_dir: Path) -> GoldOnNode:
        """What a unit needs to find or rebuild this gold image on another node."""
        return GoldOnNode(self.record, pack_dir(gold_dir(run_dir, self.record.name) / "context"), self.reference)


def build_gold_with(
    executor: Executor,
    spec_path: Path,
    settings: Settings,
    run_dir: Path,
    progress: Progress,
    rebuild: bool = False,
    registry: str | None = None,
) -> BuiltGold:
    """The gold environment of one spec, built where the executor runs units; its record is written here."""
    if executor.name == "local":
        record = build_gold(spec_path, settings, run_dir, progress, rebuild=rebuild)
        if registry:
            progress(f"pushing the gold image to {registry}")
        return BuiltGold(record, push_gold_image(record, registry) if registry else None)
    spec, spec_dir = load_repo_spec(spec_path)
    archive = None
    if isinstance(spec.source, LocalSource):
        archive = pack_dir(fetch_source(spec, spec_dir).root)  # the files the build would use, not the checkout
    record_path = gold_dir(run_dir, spec.name) / "record.json"
    previous = record_path.read_text() if record_path.is_file() and not rebuild else None
    job = GoldJob(spec, archive, previous, settings, rebuild, registry)
    progress(f"building on the {executor.name} cluster")
    ((_, result, error),) = list(executor.map(build_gold_job, [job], GOLD_RESOURCES))
    if error is not None:
        raise error
    if result is None:
        raise CligymError(f"{spec.name}: the gold build returned nothing")
    out_dir = gold_dir(run_dir, spec.name)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    unpack_into(result.gold_archive, out_dir)
    record = result.record.model_copy(update={"spec": spec})  # the user's spec, not the node's copy of it
    record.write(out_dir / "record.json")
    return BuiltGold(record, result.reference)
