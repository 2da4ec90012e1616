"""Roll a model out over tasks: ``samples`` episodes per task, ``concurrency`` at once, each in its own
container, every finished episode appended to ``RUN/trajectories.jsonl`` and marked done in the run's SQLite
state as it finishes. A re-run skips every recorded episode; containers a killed earlier process left
behind (found by the run's label) are removed first.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cligym.errors import CligymError
from cligym.executor import Executor, Lane, LocalExecutor, UnitResources
from cligym.executor.shipping import pack_dir
from cligym.labels import RUN_ID
from cligym.llm import ChatClient
from cligym.rollout.episode import Episode
from cligym.rollout.remote_episode import EpisodeJob, run_episode_job
from cligym.rollout.task_dir import RolloutTask
from cligym.rollout.task_image import ensure_task_image
from cligym.rollout.trajectory import TRAJECTORIES_FILE, Trajectory, append_trajectory, episode_id, read_trajectories
from cligym.run_state import RunState
from cligym.sandbox import remove_labelled_containers
from cligym.settings import Settings

EPISODE_STAGE = "episode"
RUN_ID_FILE = "run-id"


@dataclass(frozen=True)
class EpisodeSpec:
    task: RolloutTask
    sample: int

    @property
    def episode_id(self) -> str:
        return episode_id(self.task.task_id, self.sample)

    def seed(self, base: int | None) -> int | None:
        """Sample i of a run seeded with ``base`` samples with ``base + i``."""
        return None if base is None else base + self.sample


@dataclass
class RolloutOutcome:
    """What this invocation did; ``skipped`` episodes were recorded by an earlier one."""

    finished: list[Trajectory] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: int = 0


class RolloutEvents:
    """Callbacks for a progress display; the defaults do nothing."""

    def started(self, spec: EpisodeSpec) -> None:
        pass

    def finished(self, spec: EpisodeSpec, trajectory: Trajectory) -> None:
        pass

    def failed(self, spec: EpisodeSpec, error: str) -> None:
        pass

    def note(self, message: str) -> None:
        """Passing news (an image being prepared)."""

    def warning(self, message: str) -> None:
        """Something the user should read after the run."""


def run_id_of(run_dir: Path) -> str:
    """The run's id, made once and kept in the run directory: the label on every container it starts."""
    path = run_dir / RUN_ID_FILE
    if path.exists():
        return path.read_text().strip()
    run_dir.mkdir(parents=True, exist_ok=True)
    rid = f"{run_dir.name[:40]}-{uuid.uuid4().hex[:8]}"
    path.write_text(rid + "\n")
    return rid


def remove_leftover_containers(run_id: str) -> int:
    """Containers of this run that no live process owns (the run was killed before it could clean up)."""
    return remove_labelled_containers(f"{RUN_ID}={run_id}")


def pending_episodes(tasks: list[RolloutTask], samples: int, run_dir: Path) -> tuple[list[EpisodeSpec], int]:
    """Episodes not yet recorded in the run, and how many were."""
    recorded = {trajectory.episode_id for trajectory in read_trajectories(run_dir)}
    wanted = [EpisodeSpec(task, sample) for task in tasks for sample in range(samples)]
    pending = [spec for spec in wanted if spec.episode_id not in recorded]
    return pending, len(wanted) - len(pending)


def roll_out(
    tasks: list[RolloutTask],
    run_dir: Path,
    client: ChatClient,
    settings: Settings,
    samples: int = 1,
    concurrency: int = 1,
    events: RolloutEvents | None = None,
    seed: int | None = None,
    executor: Executor | None = None,
    servers: list[Lane] | None = None,
) -> RolloutOutcome:
    """Run every pending episode; Ctrl-C stops the run (the caller removes the live containers).

    With a Ray ``executor`` every episode is a unit carrying its task directory; with ``servers`` (one lane
    per model server: its node, ``concurrency`` episodes at once, its URL) episodes run next to a server.
    """
    if samples < 1 or concurrency < 1:
        raise CligymError("--samples and --concurrency must be at least 1")
    events = events or RolloutEvents()
    run_dir.mkdir(parents=True, exist_ok=True)
    run_id = run_id_of(run_dir)
    executor = executor or LocalExecutor(concurrency)
    if executor.name == "local":  # on a cluster the nodes' containers are found by session label instead
        leftovers = remove_leftover_containers(run_id)
        if leftovers:
            events.warning(f"removed {leftovers} containers left by an interrupted earlier run")
    pending, skipped = pending_episodes(tasks, samples, run_dir)
    outcome = RolloutOutcome(skipped=skipped)
    state = RunState(run_dir)
    results = (
        _run_locally(pending, run_id, client, settings, events, seed, state, executor)
        if executor.name == "local"
        else _run_on_cluster(pending, run_id, settings, events, seed, state, executor, servers)
    )
    try:
        for spec, trajectory, error in results:
            if error is not None:
                if not isinstance(error, CligymError):
                    raise error  # a bug, not a bad task: show the traceback
                state.fail(EPISODE_STAGE, spec.episode_id, error.message)
                outcome.failed[spec.episode_id] = error.message
                events.failed(spec, error.message)
                continue
            assert trajectory is not None
            # The record names the task directory the user gave, not where a node unpacked its copy.
            trajectory = trajectory.model_copy(update={"task_path": str(spec.task.path)})
            # Recorded before being marked done: a crash in between re-runs nothing (the record is read back).
            append_trajectory(run_dir, trajectory)
            detail = f"reward {trajectory.reward:g}, {trajectory.termination_reason}"
            state.finish(EPISODE_STAGE, spec.episode_id, run_dir / TRAJECTORIES_FILE, detail)
            outcome.finished.append(trajectory)
            events.finished(spec, trajectory)
        leftovers = executor.remove_leftovers()
        if leftovers:
            events.warning(f"removed {leftovers} containers of episodes whose worker was lost (they were re-run)")
    finally:
        state.close()
    return outcome


EPISODE_RESOURCES = UnitResources(cpus=1.0, memory_mb=2048)


def _run_locally(
    pending: list[EpisodeSpec],
    run_id: str,
    client: ChatClient,
    settings: Settings,
    events: RolloutEvents,
    seed: int | None,
    state: RunState,
    executor: Executor,
) -> Iterator[tuple[EpisodeSpec, Trajectory | None, BaseException | None]]:
    """Episodes on threads here, sharing one client and building each task image once."""
    images = _ImageCache(events)

    def one(spec: EpisodeSpec) -> Trajectory:
        image = images.get(spec.task)
        state.start(EPISODE_STAGE, spec.episode_id)
        events.started(spec)
        episode = Episode(
            client,
            spec.task,
            image,
            settings.rollout,
            settings.sandbox,
            sample=spec.sample,
            run_id=run_id,
            seed=spec.seed(seed),
        )
        return episode.run()

    return executor.map(one, pending, EPISODE_RESOURCES)


def _run_on_cluster(
    pending: list[EpisodeSpec],
    run_id: str,
    settings: Settings,
    events: RolloutEvents,
    seed: int | None,
    state: RunState,
    executor: Executor,
    servers: list[Lane] | None,
) -> Iterator[tuple[EpisodeSpec, Trajectory | None, BaseException | None]]:
    """Episodes as units that carry their task directory; results are mapped back to their specs here."""
    archives: dict[str, bytes] = {}
    jobs: list[EpisodeJob] = []
    by_job: dict[int, EpisodeSpec] = {}
    for spec in pending:
        if spec.task.task_id not in archives:
            events.note(f"{spec.task.task_id}: packing the task directory")
            archives[spec.task.task_id] = pack_dir(spec.task.path)
        job = EpisodeJob(
            task_id=spec.task.task_id,
            task_archive=archives[spec.task.task_id],
            sample=spec.sample,
            run_id=run_id,
            seed=spec.seed(seed),
            settings=settings,
        )
        jobs.append(job)
        by_job[id(job)] = spec
    for spec in pending:
        state.start(EPISODE_STAGE, spec.episode_id)  # queued on the cluster; Ray decides when it starts
        events.started(spec)
    if servers:
        results = executor.map_in_lanes(run_episode_job, jobs, EPISODE_RESOURCES, servers)
    else:
        results = executor.map(run_episode_job, jobs, EPISODE_RESOURCES)
    for job, trajectory, error in results:
        yield by_job[id(job)], trajectory, error


class _ImageCache:
    """Builds each task's image once, even when several of its episodes start at the same moment."""

    def __init__(self, events: RolloutEvents) -> None:
        self.events = events
        self._tags: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, task: RolloutTask) -> str:
        with self._guard:
            lock = self._locks.setdefault(task.task_id, threading.Lock())
        with lock:
            if task.task_id not in self._tags:
                self.events.note(f"{task.task_id}: preparing the task image")
                self._tags[task.task_id] = ensure_task_image(task)
            return self._tags[task.task_id]
