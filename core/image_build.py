"""``docker build`` through the SDK, streaming its log and failing with the failing step's last lines."""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path

from docker.errors import APIError

from cligym.docker_connection import docker_client
from cligym.errors import ImageBuildError

LogCallback = Callable[[str], None]
_TAIL_LINES = 30


def build_image(
    context_dir: Path,
    tag: str,
    *,
    labels: dict[str, str] | None = None,
    build_args: dict[str, str] | None = None,
    dockerfile: str = "Dockerfile",
    on_log: LogCallback | None = None,
    no_cache: bool = False,
) -> str:
    """Build ``context_dir/dockerfile`` as ``tag`` and return the image id.

    Raises ``ImageBuildError`` naming the step that failed and holding the last 30 lines of output.
    """
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    current_step = ""
    image_id = ""
    try:
        stream = docker_client().api.build(
            path=str(context_dir),
            dockerfile=dockerfile,
            tag=tag,
            labels=labels,
            buildargs=build_args,
            rm=True,
            forcerm=True,
            decode=True,
            nocache=no_cache,
        )
        for chunk in stream:
            if "error" in chunk or "errorDetail" in chunk:
                message = chunk.get("error") or chunk["errorDetail"].get("message", "")
                output = "\n".join(tail)
                raise ImageBuildError(
                    f"building {tag} failed at {current_step or 'the first step'}: {message.strip()}\n{output}",
                    f"the Dockerfile is {context_dir / dockerfile}",
                )
            text = chunk.get("stream", "")
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            for line in text.splitlines():
                if not line.strip():
                    continue
                if line.startswith("Step "):
                    current_step = line.strip()
                tail.append(line)
                if on_log is not None:
                    on_log(line)
    except APIError as exc:
        raise ImageBuildError(f"building {tag} failed: {exc.explanation}") from None
    if not image_id:
        image_id = str(docker_client().images.get(tag).id)
    return image_id
