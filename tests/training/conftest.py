"""The training tests train on the dataset made from the filtering tests' real scripted rollout."""

from tests.filtering.conftest import exported_task_dir as exported_task_dir
from tests.filtering.conftest import rollout_run as rollout_run
from tests.filtering.conftest import validated_task as validated_task
