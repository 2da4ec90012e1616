"""A real exported task for the rollout tests: the bundled inventory example's gold environment with a
validated catalog break (the SQLite library its tests load), exported as a Harbor task directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from cligym.generation.export import export_harbor_task
from tests.generation.conftest import ValidatedTask
from tests.generation.conftest import validated_task as validated_task


@pytest.fixture(scope="session")
def exported_task_dir(validated_task: ValidatedTask, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The validated task exported as a Harbor task directory (symptom-only)."""
    return export_harbor_task(
        validated_task.task,
        validated_task.gold,
        validated_task.gold_context,
        tmp_path_factory.mktemp("tasks"),
        hinted=False,
    )
