"""The image of a task, built from its own ``environment/Dockerfile`` once per machine (tagged by a hash of
the environment directory, so an edited task gets a new image and an unchanged one is never rebuilt)."""

from __future__ import annotations

from docker.errors import DockerException, ImageNotFound

from cligym.docker_connection import docker_client
from cligym.errors import CligymError
from cligym.image_build import LogCallback, build_image
from cligym.labels import ROLE_TASK, cligym_labels
from cligym.rollout.task_dir import RolloutTask


def ensure_task_image(task: RolloutTask, on_log: LogCallback | None = None) -> str:
    """The task's image tag, building it when this Docker host does not have it yet."""
    tag = task.image_tag()
    try:
        docker_client().images.get(tag)
        return tag
    except ImageNotFound:
        pass
    except DockerException as exc:
        raise CligymError(f"cannot look up image {tag}: {exc}") from None
    build_image(task.environment_dir, tag, labels=cligym_labels(ROLE_TASK), on_log=on_log)
    return tag
