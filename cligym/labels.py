"""Labels on every container, image and volume cligym creates, so that ``cligym gc`` can find them."""

from __future__ import annotations

MANAGED = "io.cligym.managed"
RUN_ID = "io.cligym.run"
ROLE = "io.cligym.role"

ROLE_SANDBOX = "sandbox"
ROLE_BASE = "base"
ROLE_COMMIT = "commit"


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
