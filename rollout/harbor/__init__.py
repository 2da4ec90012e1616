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
- Steps that are not this trajectory's model output are context, never assistant messages (the chat dataset
  trains on every assistant message): ``is_copied_context`` steps (copied from an earlier trajectory, as
  Terminus's summarisation and continuation files and resumed sessions do) and deterministic agent steps
  (``llm_call_count == 0``). A system or user step stays as it is; an agent step becomes a user message
  holding its text, calls and results under a line saying what it is. Their calls are steps (commands the
  filter rules judge) unless their original is taken in elsewhere; they add no model turn and no tokens.
- A ``continued_trajectory_ref`` (Terminus's ``linear_history``) is followed: the continuation file's steps
  extend the conversation, its copies of the previous file's steps as context only.
- A subagent (``observation.results[].subagent_trajectory_ref``: ``trajectory_id`` embedded in
  ``subagent_trajectories``, or ``trajectory_path`` beside ``trajectory.json``) adds its calls to the steps,
  after the step that delegated, under that model turn; its conversation stays its own (the parent model
  never saw it) and the verdict is the parent's, so it is not a record of its own, which would also count
  the trial twice in pass rates. A reference that cannot be resolved makes the trial unreadable: a command
  nobody can see could be a reward hack.
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
