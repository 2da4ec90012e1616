"""The run-level rules of generate_for_spec with a scripted inverter on the bundled example: a second break
with the same cause is a near-duplicate (found before the second run and the oracle), a different cause with
the same symptom is a task of its own, an empty proposal is recorded as no_proposal (its tokens still
counted), and the run stops when the inverter has nothing left."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from cligym.base_images import BaseImage
from cligym.generation.attempt_log import read_attempts
from cligym.generation.generate import generate_for_spec
from cligym.generation.gold.record import GoldRecord
from cligym.generation.operators.base import Category, run
from cligym.generation.task_record import Attempt, Candidate, Provenance
from cligym.run_state import RunState
from cligym.settings import load_settings

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SONAME = "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0"


def proposal(name: str, steps: list[str], tokens: int = 0) -> Candidate:
    return Candidate(
        repo="inventory",
        category=Category.SHARED_LIBRARY,
        inverter=f"script:{name}",
        description=f"scripted {name}",
        break_steps=[run(step) for step in steps],
        repair_commands=[f"ln -sf libsqlite3.so.0.8.6 {SONAME}", "ldconfig"],
        provenance=Provenance(prompt_tokens=tokens),
    )


class ScriptedInverter:
    """Proposes a fixed list of candidates, then nothing."""

    name = "script"

    def __init__(self, proposals: list[Candidate]) -> None:
        self.proposals = proposals
        self.calls = 0

    def propose(self, gold: GoldRecord, history: Sequence[Attempt]) -> Candidate | None:
        self.calls += 1
        return self.proposals[len(history)] if len(history) < len(self.proposals) else None


def test_duplicates_by_cause_empty_proposals_and_an_exhausted_inverter(base_image: BaseImage, tmp_path: Path) -> None:
    inverter = ScriptedInverter(
        [
            proposal("redirect-to-libm", [f"ln -sf libm.so.6 {SONAME}"]),
            proposal("out-of-budget", [], tokens=1234),
            # Another cause of the same symptom: the same tests fail, it is a diagnosis of its own.
            proposal("remove-the-soname", [f"rm -f {SONAME} && ldconfig -X"]),
            # The first cause again, proposed under another name: a duplicate.
            proposal("redirect-again", [f"ln -sf libm.so.6 {SONAME}"]),
        ]
    )
    state = RunState(tmp_path)
    try:
        outcome = generate_for_spec(
            REPO / "configs" / "repos" / "inventory.yaml", load_settings(), tmp_path, state, 5, inverter, print
        )
    finally:
        state.close()
    attempts = read_attempts(tmp_path, "inventory")
    assert [a.rejected_by for a in attempts] == [None, "no_proposal", None, "near_duplicate"]
    assert attempts[1].candidate.provenance.tokens == 1234
    assert attempts[2].validation.fail_to_pass == attempts[0].validation.fail_to_pass
    duplicate = attempts[3]
    assert "same cause" in duplicate.reason
    # Judged as soon as the failing set was known: no second run, no oracle.
    assert duplicate.validation.stages == ["build", "full_suite"]
    assert len(outcome.tasks) == 2 and outcome.candidates == 4
    assert outcome.rejections == {"no_proposal": 1, "near_duplicate": 1}
    assert inverter.calls == 5  # the fifth call returned None and ended the search
