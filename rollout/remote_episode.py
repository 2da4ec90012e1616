"""An episode as a self-contained unit for a node that shares nothing with the coordinator but the cluster:
the task directory travels with it, the task image is built there once (hash-tagged), the model client is
made there (against the server next to it when one is given), and only the trajectory comes back."""

from __future__ import annotations

from dataclasses import dataclass

from cligym.executor.shipping import unpack_once
from cligym.llm import ChatClient
from cligym.rollout.episode import Episode
from cligym.rollout.task_dir import load_task
from cligym.rollout.task_image import ensure_task_image
from cligym.rollout.trajectory import Trajectory
from cligym.settings import Settings


@dataclass(frozen=True)
class EpisodeJob:
    task_id: str
    task_archive: bytes
    sample: int
    run_id: str
    seed: int | None
    settings: Settings


def run_episode_job(job: EpisodeJob, base_url: str | None = None) -> Trajectory:
    """Run one episode on this node; ``base_url`` overrides the configured endpoint (a per-node server)."""
    task = load_task(unpack_once(job.task_archive, job.task_id))
    image = ensure_task_image(task)
    model = job.settings.model
    if base_url is not None:
        model = model.model_copy(update={"base_url": base_url})
    episode = Episode(
        ChatClient.from_settings(model),
        task,
        image,
        job.settings.rollout,
        job.settings.sandbox,
        sample=job.sample,
        run_id=job.run_id,
        seed=job.seed,
    )
    return episode.run().model_copy(update={"node": _ray_node_id()})


def _ray_node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else ""
