"""Labels on every container, image and volume cligym creates, so that ``cligym gc`` can find them."""

from __future__ import annotations

import uuid

MANAGED = "io.cligym.managed"
RUN_ID = "io.cligym.run"
ROLE = "io.cligym.role"
SESSION = "io.cligym.session"

# This process: after Ctrl-C its containers are found by this label, also those started in the race.
SESSION_ID = uuid.uuid4().hex[:12]
_session = SESSION_ID

ROLE_SANDBOX = "sandbox"
ROLE_BASE = "base"
ROLE_COMMIT = "commit"
ROLE_TASK = "task"


def current_session() -> str:
    """The session containers started now are labelled with: this process's, or the coordinator's that
    handed this process its work (a Ray worker), so that the coordinator's Ctrl-C finds them on every node."""
    return _session


def adopt_session(session: str) -> None:
    global _session
    _session = session


def cligym_labels(role: str, run_id: str | None = None) -> dict[str, str]:
    """The label set for a new object of the given role, tied to a run when there is one."""
    labels = {MANAGED: "true", ROLE: role}
    if run_id:
        labels[RUN_ID] = run_id
    return labels


def label_filter(run_id: str | None = None) -> list[str]:
    """Docker ``label=`` filters selecting cligym objects, optionally only one run's."""
    filters = [f"{MANAGED}=true"]
    if run_id:
        filters.append(f"{RUN_ID}={run_id}")
    return filters
