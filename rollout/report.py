"""How well a model repaired a rollout run's tasks, from its trajectories (pandas).

Over the whole run ("all"), per repository and per category: tasks, episodes, resolved episodes, pass@k for
k = 1..K (K the most samples any task has), mean reward, steps, tokens and seconds; pass@k per task; the
distribution of steps, tokens and seconds (count, mean, median, p90, max) over all episodes and split into
resolved and unresolved ones (p90 interpolates linearly between episodes, pandas' default); and why episodes
stopped.

pass@k is the unbiased estimator of Chen et al. (2021, "Evaluating Large Language Models Trained on Code"):
a task with n samples of which c resolved it scores ``1 - C(n-c, k) / C(n, k)``, the chance that k samples
drawn without replacement from its n include a resolved one. A scope's pass@k is the mean over its tasks
with n >= k; tasks with fewer samples say nothing about k and are left out (NaN when no task qualifies).
pass@1 is therefore each task's resolve rate, averaged over tasks, so a task sampled more often does not
weigh more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cligym.errors import CligymError
from cligym.rollout.trajectory import TRAJECTORIES_FILE, Trajectory, read_trajectories

ALL = "all"
METRICS = ("steps", "tokens", "seconds")
OUTCOMES = ("all", "resolved", "unresolved")
EPISODE_COLUMNS = [
    "episode_id",
    "task_id",
    "repo",
    "category",
    "sample",
    "source",
    "agent",
    "model",
    "reward",
    "resolved",
    "steps",
    "commands",
    "prompt_tokens",
    "completion_tokens",
    "tokens",
    "seconds",
    "termination_reason",
]
_DISTRIBUTION_COLUMNS = ["metric", "episodes", "count", "mean", "median", "p90", "max"]


@dataclass(frozen=True)
class RolloutTotals:
    """The whole run's numbers; ``pass_at_k`` maps k = 1..K to pass@k (NaN when no task has k samples)."""

    episodes: int
    tasks: int
    resolved: int
    pass_at_k: dict[int, float]
    mean_reward: float
    mean_steps: float
    mean_tokens: float
    mean_seconds: float

    @property
    def pass_at_1(self) -> float:
        return self.pass_at_k[1]


@dataclass(frozen=True)
class RolloutReport:
    """Frames of one run; in ``by_repo`` and ``by_category`` the row named ``all`` is the whole run."""

    episodes: pd.DataFrame  # one row per episode (EPISODE_COLUMNS)
    by_task: pd.DataFrame  # task_id, repo, category, samples, resolved, mean_reward, pass@1..pass@K
    by_repo: pd.DataFrame  # repo, tasks, episodes, resolved, pass@1..pass@K, mean_reward/steps/tokens/seconds
    by_category: pd.DataFrame  # category, then as by_repo
    distributions: pd.DataFrame  # metric, episodes (all/resolved/unresolved), count, mean, median, p90, max
    terminations: pd.DataFrame  # termination_reason, count, resolved

    @property
    def max_k(self) -> int:
        """K: the most samples any task has, the largest k pass@k is given for."""
        return int(self.by_task["samples"].max())

    @property
    def totals(self) -> RolloutTotals:
        row = self.by_repo.set_index("repo").loc[ALL]
        return RolloutTotals(
            episodes=int(row["episodes"]),
            tasks=int(row["tasks"]),
            resolved=int(row["resolved"]),
            pass_at_k={k: float(row[pass_column(k)]) for k in range(1, self.max_k + 1)},
            mean_reward=float(row["mean_reward"]),
            mean_steps=float(row["mean_steps"]),
            mean_tokens=float(row["mean_tokens"]),
            mean_seconds=float(row["mean_seconds"]),
        )


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k of one task with ``n`` samples, ``c`` of them resolved: 1 - C(n-c, k) / C(n, k).

    ``math.comb`` is 0 when k > n - c, so a task with fewer than k failures scores 1 exactly.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c})")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_column(k: int) -> str:
    return f"pass@{k}"


def trajectories_frame(trajectories: list[Trajectory]) -> pd.DataFrame:
    """One row per episode: who ran it, the verdict, what it cost and why it stopped."""
    rows = [
        {
            "episode_id": trajectory.episode_id,
            "task_id": trajectory.task_id,
            "repo": trajectory.repo,
            "category": trajectory.category,
            "sample": trajectory.sample,
            "source": trajectory.source,
            "agent": trajectory.agent,
            "model": trajectory.sampling.model,
            "reward": trajectory.reward,
            "resolved": trajectory.resolved,
            "steps": trajectory.totals.steps,
            "commands": trajectory.totals.commands,
            "prompt_tokens": trajectory.totals.prompt_tokens,
            "completion_tokens": trajectory.totals.completion_tokens,
            "tokens": trajectory.totals.tokens,
            "seconds": trajectory.totals.seconds,
            "termination_reason": trajectory.termination_reason,
        }
        for trajectory in trajectories
    ]
    frame = pd.DataFrame(rows, columns=EPISODE_COLUMNS)
    return frame.sort_values(["task_id", "sample"], ignore_index=True)


def rollout_report(run_dir: Path) -> RolloutReport:
    """The report of ``run_dir``; raises CligymError when it holds no trajectories."""
    trajectories = read_trajectories(run_dir)
    if not trajectories:
        raise CligymError(
            f"no trajectories in {run_dir} (no readable {TRAJECTORIES_FILE})",
            "run 'cligym rollout TASKS... --out RUN' first, or point at the run's directory",
        )
    episodes = trajectories_frame(trajectories)
    tasks = _by_task(episodes)
    return RolloutReport(
        episodes=episodes,
        by_task=tasks,
        by_repo=_by_scope(episodes, tasks, "repo"),
        by_category=_by_scope(episodes, tasks, "category"),
        distributions=_distributions(episodes),
        terminations=_terminations(episodes),
    )


def _by_task(episodes: pd.DataFrame) -> pd.DataFrame:
    grouped = episodes.groupby("task_id", sort=True)
    table = grouped.agg(
        repo=("repo", "first"),
        category=("category", "first"),
        samples=("episode_id", "size"),
        resolved=("resolved", "sum"),
        mean_reward=("reward", "mean"),
    ).reset_index()
    table["resolved"] = table["resolved"].astype(int)
    for k in range(1, int(table["samples"].max()) + 1):
        table[pass_column(k)] = [
            pass_at_k(n, c, k) if n >= k else math.nan for n, c in zip(table["samples"], table["resolved"], strict=True)
        ]
    return table


def _by_scope(episodes: pd.DataFrame, tasks: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per value of ``column`` and once more over the whole run: pass@k averages tasks, the rest episodes."""
    scoped_tasks = pd.concat([tasks, tasks.assign(**{column: ALL})], ignore_index=True)
    scoped_episodes = pd.concat([episodes, episodes.assign(**{column: ALL})], ignore_index=True)
    by_task = scoped_tasks.groupby(column, sort=False)
    by_episode = scoped_episodes.groupby(column, sort=False)
    passes = [name for name in tasks.columns if name.startswith("pass@")]
    table = pd.DataFrame(
        {
            "tasks": by_task.size(),
            "episodes": by_episode.size(),
            "resolved": by_episode["resolved"].sum().astype(int),
            # mean() skips NaN: the tasks with fewer than k samples.
            **{name: by_task[name].mean() for name in passes},
            "mean_reward": by_episode["reward"].mean(),
            "mean_steps": by_episode["steps"].mean(),
            "mean_tokens": by_episode["tokens"].mean(),
            "mean_seconds": by_episode["seconds"].mean(),
        }
    )
    table = table.rename_axis(column).reset_index()
    return table.sort_values(column, key=_all_last, ignore_index=True)


def _distributions(episodes: pd.DataFrame) -> pd.DataFrame:
    subsets = {
        "all": episodes,
        "resolved": episodes[episodes["resolved"]],
        "unresolved": episodes[~episodes["resolved"]],
    }
    rows = []
    for metric in METRICS:
        for outcome in OUTCOMES:
            values = subsets[outcome][metric].astype(float)
            rows.append(
                {
                    "metric": metric,
                    "episodes": outcome,
                    "count": len(values),
                    # An empty subset (nothing resolved yet) has no statistics, not zeros.
                    "mean": values.mean() if len(values) else math.nan,
                    "median": values.median() if len(values) else math.nan,
                    "p90": values.quantile(0.9) if len(values) else math.nan,
                    "max": values.max() if len(values) else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=_DISTRIBUTION_COLUMNS)


def _terminations(episodes: pd.DataFrame) -> pd.DataFrame:
    grouped = episodes.groupby("termination_reason", sort=False)
    table = pd.DataFrame({"count": grouped.size(), "resolved": grouped["resolved"].sum().astype(int)})
    table = table.rename_axis("termination_reason").reset_index()
    return table.sort_values(["count", "termination_reason"], ascending=[False, True], ignore_index=True)


def _all_last(column: pd.Series) -> pd.Series:
    """Sort key: repositories or categories by name, the whole run ("all") after them."""
    return column.where(column != ALL, "\uffff")
