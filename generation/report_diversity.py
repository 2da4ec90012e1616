"""How diverse a run's tasks are: the numbers that say whether the data teaches diagnosis.

Per repository and over the run: valid tasks, distinct categories, distinct causes (operator and target; a
model's exact break), distinct failing sets and the most tasks sharing one, how many tasks fail every gold
test and their share, the median share of gold tests a task fails, how many the diagnosis-free sweep
repairs (shallow), and the seconds a candidate costs by outcome (broke nothing, rejected later, valid): the
fast reject shows in the first of these.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from cligym.generation.duplicates import cause_of
from cligym.generation.task_record import Attempt

OUTCOMES = ("broke_nothing", "rejected_later", "valid")
COLUMNS = [
    "repo",
    "valid",
    "categories",
    "causes",
    "failing_sets",
    "max_per_failing_set",
    "fails_all",
    "fails_all_share",
    "median_f2p_share",
    "shallow",
    *(f"{outcome}_s" for outcome in OUTCOMES),
]


def outcome_of(attempt: Attempt) -> str:
    if attempt.valid:
        return "valid"
    return "broke_nothing" if attempt.rejected_by == "breaks" else "rejected_later"


def diversity_columns(attempt: Attempt) -> dict[str, object]:
    """The per-attempt columns the diversity table groups by."""
    failing = "\n".join(sorted(attempt.validation.fail_to_pass))
    return {
        "cause": cause_of(attempt.candidate),
        "failing_set": hashlib.sha256(failing.encode()).hexdigest()[:12] if failing else "",
        "outcome": outcome_of(attempt),
        "shallow": bool(attempt.validation.shallow),
    }


def diversity_frame(scoped: pd.DataFrame) -> pd.DataFrame:
    """``scoped`` holds one row per attempt (with ``gold_tests`` of its repository), repeated under "all"."""
    rows = []
    for repo, group in scoped.groupby("repo", sort=False):
        valid = group[group["valid"]]
        per_set = valid.groupby("failing_set").size()
        fails_all = valid[(valid["gold_tests"] > 0) & (valid["fail_to_pass"] >= valid["gold_tests"])]
        share = (valid["fail_to_pass"] / valid["gold_tests"].where(valid["gold_tests"] > 0)).dropna()
        seconds = group.groupby("outcome")["seconds"].mean()
        rows.append(
            {
                "repo": repo,
                "valid": len(valid),
                "categories": valid["category"].nunique(),
                "causes": valid["cause"].nunique(),
                "failing_sets": valid["failing_set"].nunique(),
                "max_per_failing_set": int(per_set.max()) if not per_set.empty else 0,
                "fails_all": len(fails_all),
                "fails_all_share": len(fails_all) / len(valid) if len(valid) else float("nan"),
                "median_f2p_share": float(share.median()) if not share.empty else float("nan"),
                "shallow": int(valid["shallow"].sum()),
                **{f"{outcome}_s": float(seconds.get(outcome, float("nan"))) for outcome in OUTCOMES},
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
