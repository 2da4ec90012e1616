"""The one interface every inverter implements: propose the next candidate break of a gold environment.

A generation run asks an inverter for candidates one at a time, validates each, and hands the growing history
(every judged candidate of this repository in this run, valid or not, in order) back on the next call. That
history is the execution feedback: an inverter steers away from what did not break anything, toward
categories not yet covered, and never proposes a candidate twice. On resume the history is read back from the
run directory, so a deterministic inverter picks up exactly where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cligym.generation.gold.record import GoldRecord
from cligym.generation.task_record import Attempt, Candidate


class Inverter(Protocol):
    """Proposes candidate breaks (break steps, target tests by construction, oracle repair)."""

    name: str

    def propose(self, gold: GoldRecord, history: Sequence[Attempt]) -> Candidate | None:
        """The next candidate for ``gold`` given what was judged so far; None when it has nothing left to try."""
        ...
