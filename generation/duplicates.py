"""Near-duplicates by cause, not only by symptom.

A task is a (root cause, symptom) pair. The same cause on the same target is one diagnosis whatever the
parameters: a second such task is a duplicate. Different causes with the same symptom (a .pth hook,
usercustomize and PYTHONPATH all hiding one module) are different diagnoses and are kept, up to a cap of
tasks per identical failing set, so one symptom cannot fill a repository's share.

The judge is asked as soon as a candidate's failing set is known (after the full-suite run), so a
duplicate never costs the second run and the oracle; it is asked again when the run concludes a candidate,
because candidates validated at once cannot see each other.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Iterable

from cligym.generation.task_record import Candidate


def cause_of(candidate: Candidate) -> str:
    """The diagnosis a candidate asks for: the catalog operator(s) and what they hit (the description names
    both, independent of the parameters drawn); for a model's break, its exact steps, whichever model wrote them."""
    if candidate.inverter.startswith("catalog:"):
        return f"{candidate.inverter}|{candidate.description}"
    steps = "\n".join(step.render() for step in candidate.break_steps)
    family = candidate.inverter.split(":", 1)[0]
    return f"{family}|{hashlib.sha256(steps.encode()).hexdigest()[:16]}"


def every_test_cap(share: float, tasks_wanted: int) -> int:
    """How many of a repository's ``tasks_wanted`` tasks may fail every gold test: ``share`` of them, rounded
    down, and at least one unless the share is zero."""
    if share <= 0:
        return 0
    return max(1, int(share * tasks_wanted + 1e-9))


class DuplicateJudge:
    """The tasks one repository has so far, and whether another candidate would duplicate one of them."""

    def __init__(
        self, max_per_failing_set: int, every_test: Iterable[str] = (), max_failing_every_test: int | None = None
    ) -> None:
        self.max_per_failing_set = max_per_failing_set
        # A task failing every test teaches little about where to look: its own, smaller cap.
        self.every_test = tuple(sorted(every_test))
        self.max_failing_every_test = max_per_failing_set if max_failing_every_test is None else max_failing_every_test
        self._causes: set[str] = set()
        self._failing_sets: Counter[tuple[str, ...]] = Counter()
        self._lock = threading.Lock()

    def add(self, candidate: Candidate, fail_to_pass: Iterable[str]) -> None:
        with self._lock:
            self._causes.add(cause_of(candidate))
            self._failing_sets[tuple(sorted(fail_to_pass))] += 1

    def duplicate_reason(self, candidate: Candidate, fail_to_pass: Iterable[str]) -> str | None:
        """Why the candidate duplicates an earlier task (None: it does not)."""
        with self._lock:
            if cause_of(candidate) in self._causes:
                return "the same cause on the same target as an earlier task of this repository"
            failing = tuple(sorted(fail_to_pass))
            same = self._failing_sets[failing]
            if failing == self.every_test and same >= self.max_failing_every_test:
                return f"{same} earlier tasks of this repository fail every gold test"
            if same >= self.max_per_failing_set:
                return f"{same} earlier tasks of this repository fail exactly the same tests"
        return None
