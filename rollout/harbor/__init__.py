"""Import Harbor job directories into our trajectory record, so episodes rolled out with Harbor's agents go
through the same filtering and dataset building as ours (``source = "harbor"``).

A Harbor job directory holds one directory per trial; each trial leaves ``result.json`` (task, agent,
timestamps, verifier rewards), ``config.json``, ``agent/`` (``trajectory.json`` in ATIF when the agent writes
one) and ``verifier/`` (``reward.txt``, and for our exported tasks ``pytest-report.json``).

How a trial becomes a record:

- ``episode_id`` is ``<task id>#harbor-<trial name>``: Harbor's trial names carry a random suffix, so they
  are unique across jobs and a re-import finds the same ids (the import is idempotent).
- ``messages`` come from the ATIF steps: system and user steps as they are, an agent step as an assistant
  message with its ``tool_calls``, then one ``tool`` message per call. An observation result names the call
  it answers; one that names none (Terminus batches several commands into one terminal read) answers the
  first call left unanswered, and a call nothing answers gets an empty result. An agent step without tool
  calls has its observation sent back as the next user message, as text agents do.
- ``steps``: one per tool call (one per turn without calls), ``index`` the model turn, tokens on a turn's
  first step. A call is a command when its arguments carry ``command``, ``cmd`` or ``keystrokes``. ATIF
  records neither exit codes nor command durations, so those stay unknown.
- A trial whose agent wrote no ATIF file (oracle, nop, agents without a converter) is imported with no
  messages or steps: its verdict still counts for pass rates, and the filter's length rule drops it from
  datasets.
- A trial with no verifier reward (unfinished, or Harbor failed before judging) is skipped with a reason:
  a record without a verdict cannot be filtered, and a later re-import picks it up once it has one.
- Per-test statuses need the task's ``tests/expected.json``, read from the task path Harbor recorded; when
  that directory is gone the record has the reward only, and the summary says so.
"""

from __future__ import annotations

from cligym.rollout.harbor.discovery import find_trial_dirs
from cligym.rollout.harbor.importer import ImportSummary, SkippedTrial, import_harbor_jobs, task_id_of

__all__ = ["ImportSummary", "SkippedTrial", "find_trial_dirs", "import_harbor_jobs", "task_id_of"]
