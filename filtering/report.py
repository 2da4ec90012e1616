"""What filtering kept and why the rest went, how often agents succeeded per category and repository, and
how long the trajectories are (tables with pandas, histograms as a PNG)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cligym.filtering.filter_run import Decision
from cligym.rollout.trajectory import Trajectory

PLOT_FILE = "lengths.png"


@dataclass(frozen=True)
class FilterReport:
    episodes: pd.DataFrame  # one row per episode: outcome, lengths and the decision
    decisions: pd.DataFrame  # kept / dropped per rule
    by_category: pd.DataFrame
    by_repo: pd.DataFrame
    lengths: pd.DataFrame  # steps and tokens, kept vs all


def episodes_frame(trajectories: list[Trajectory], decisions: list[Decision]) -> pd.DataFrame:
    decided = {decision.episode_id: decision for decision in decisions}
    rows = []
    for trajectory in trajectories:
        decision = decided.get(trajectory.episode_id)
        rows.append(
            {
                "episode_id": trajectory.episode_id,
                "task_id": trajectory.task_id,
                "repo": trajectory.repo or "-",
                "category": trajectory.category or "-",
                "resolved": trajectory.resolved,
                "kept": bool(decision and decision.kept),
                "rule": (decision.rule if decision else "") or ("kept" if decision and decision.kept else "-"),
                "steps": trajectory.totals.steps,
                "tokens": trajectory.totals.tokens,
            }
        )
    return pd.DataFrame(rows)


def filter_report(trajectories: list[Trajectory], decisions: list[Decision]) -> FilterReport:
    frame = episodes_frame(trajectories, decisions)
    counts = frame.groupby("rule").size().rename("episodes").reset_index()
    counts["share"] = counts["episodes"] / len(frame)
    counts = counts.sort_values(["rule"], key=lambda column: column.map(lambda rule: (rule != "kept", rule)))
    return FilterReport(
        episodes=frame,
        decisions=counts.reset_index(drop=True),
        by_category=_success(frame, "category"),
        by_repo=_success(frame, "repo"),
        lengths=_lengths(frame),
    )


def _success(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    grouped = frame.groupby(column).agg(
        episodes=("episode_id", "size"),
        tasks=("task_id", "nunique"),
        resolved=("resolved", "sum"),
        kept=("kept", "sum"),
    )
    grouped["success_rate"] = grouped["resolved"] / grouped["episodes"]
    return grouped.reset_index()


def _lengths(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for subset, part in (("all", frame), ("kept", frame[frame["kept"]])):
        for measure in ("steps", "tokens"):
            values = part[measure]
            rows.append(
                {
                    "episodes": subset,
                    "measure": measure,
                    "count": len(values),
                    "mean": values.mean() if len(values) else float("nan"),
                    "median": values.median() if len(values) else float("nan"),
                    "p90": values.quantile(0.9) if len(values) else float("nan"),
                    "max": values.max() if len(values) else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def plot_lengths(frame: pd.DataFrame, path: Path) -> Path:
    """Histograms of steps and tokens per episode, kept over all."""
    import matplotlib

    matplotlib.use("Agg")  # no display on GPU nodes and CI
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, measure in zip(axes, ("steps", "tokens"), strict=True):
        axis.hist(frame[measure], bins=20, alpha=0.5, label="all")
        axis.hist(frame.loc[frame["kept"], measure], bins=20, alpha=0.8, label="kept")
        axis.set_xlabel(f"{measure} per episode")
        axis.set_ylabel("episodes")
        axis.legend()
    figure.suptitle("trajectory lengths")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
