"""The one place a task's Dockerfile is written: a head (gold's pinned Dockerfile, or ``FROM`` a gold image), the
steps an export format needs, then the candidate's break steps. Validation, the task record and every
exporter build the same file, so the image judged is the image shipped."""

from __future__ import annotations

from collections.abc import Sequence

from cligym.generation.operators.base import BreakStep


def from_image(reference: str) -> str:
    return f"FROM {reference}"


def task_dockerfile(head: str, break_steps: Sequence[BreakStep], extra_steps: Sequence[str] = ()) -> str:
    lines = [head.rstrip("\n"), *extra_steps, *(step.render() for step in break_steps)]
    return "\n".join(lines) + "\n"
