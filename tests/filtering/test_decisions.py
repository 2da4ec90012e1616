"""Filter decisions are versioned records: written and read back alike, refused with their line when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from cligym.errors import CligymError
from cligym.filtering.filter_run import DECISION_SCHEMA_VERSION, DECISIONS_FILE, FILTER_DIR, Decision, read_decisions


def write(run: Path, lines: list[str]) -> None:
    (run / FILTER_DIR).mkdir(parents=True)
    (run / FILTER_DIR / DECISIONS_FILE).write_text("".join(f"{line}\n" for line in lines))


def test_decisions_round_trip_with_their_schema_version(tmp_path: Path) -> None:
    kept = Decision(episode_id="t#0", task_id="t", kept=True)
    dropped = Decision(episode_id="t#1", task_id="t", kept=False, rule="verifier_passed", reason="reward 0.0")
    write(tmp_path, [kept.model_dump_json(), "", dropped.model_dump_json()])
    assert read_decisions(tmp_path) == [kept, dropped]
    assert f'"schema_version":"{DECISION_SCHEMA_VERSION}"' in kept.model_dump_json()


def test_a_decision_of_another_version_or_shape_names_its_line(tmp_path: Path) -> None:
    write(tmp_path, ['{"schema_version": "cligym.filter-decision/0", "episode_id": "t#0", "task_id": "t", "kept": 1}'])
    with pytest.raises(CligymError, match=r"decisions.jsonl:1: not a filter decision \(.*filter-decision/0"):
        read_decisions(tmp_path)
    (tmp_path / FILTER_DIR / DECISIONS_FILE).write_text('{"episode_id": "t#0"}\n')
    with pytest.raises(CligymError, match=r"decisions.jsonl:1: not a filter decision"):
        read_decisions(tmp_path)
