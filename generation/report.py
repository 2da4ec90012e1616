"""What a generation run produced and what it cost, from its attempt log and gold records (pandas).

Per repository and over the whole run ("all"): candidates judged, valid tasks, yield, valid tasks by
category, rejections by reason, diversity (see ``report_diversity``), seconds and tokens per valid task
(everything spent validating and proposing, divided by the valid tasks), disk the break layers add per task,
the gold build and test seconds, and per stage (proposing, then each validation check) the median and total
seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cligym.errors import CligymError
from cligym.generation.attempt_log import ATTEMPTS_DIR, read_attempts
from cligym.generation.gold.build import gold_dir
from cligym.generation.report_diversity import diversity_columns, diversity_frame
from cligym.generation.task_record import Attempt

ALL = "all"
CHECKS = ("builds", "expected_tests", "breaks", "repo_untouched", "deterministic", "oracle_repairs", "depth_sweep")
STAGES = ("propose", *CHECKS)
_GOLD_COLUMNS = ["repo", "gold_tests", "gold_build_s", "gold_tests_s", "probe_s", "gold_image_mb"]


@dataclass(frozen=True)
class RunTotals:
    """The whole run's numbers (NaN where there is nothing to divide by)."""

    candidates: int
    valid: int
    yield_: float
    seconds_per_valid: float
    tokens_per_valid: float
    disk_mb_per_task: float
    valid_per_hour: float
    gold_build_s: float
    gold_tests_s: float


@dataclass(frozen=True)
class GenerationReport:
    """Frames with a ``repo`` column; rows with repo ``all`` are the whole run."""

    attempts: pd.DataFrame  # one row per judged candidate
    by_repo: pd.DataFrame  # candidates, valid, yield, per-valid costs, gold timings
    by_category: pd.DataFrame  # repo, category, candidates, valid, yield
    rejections: pd.DataFrame  # repo, rejected_by, count
    stages: pd.DataFrame  # repo, stage, runs, median_s, total_s
    diversity: pd.DataFrame  # repo, valid, categories, causes, failing sets, fails-all, seconds by outcome

    @property
    def totals(self) -> RunTotals:
        row = self.by_repo.set_index("repo").loc[ALL]
        return RunTotals(
            candidates=int(row["candidates"]),
            valid=int(row["valid"]),
            yield_=float(row["yield"]),
            seconds_per_valid=float(row["seconds_per_valid"]),
            tokens_per_valid=float(row["tokens_per_valid"]),
            disk_mb_per_task=float(row["disk_mb_per_task"]),
            valid_per_hour=float(row["valid_per_hour"]),
            gold_build_s=float(row["gold_build_s"]),
            gold_tests_s=float(row["gold_tests_s"]),
        )


def attempts_frame(attempts: list[Attempt]) -> pd.DataFrame:
    """One row per judged candidate: outcome, seconds per stage, tokens, disk."""
    rows = []
    for attempt in attempts:
        candidate, validation = attempt.candidate, attempt.validation
        row: dict[str, object] = {
            "repo": attempt.repo,
            "key": attempt.key,
            "category": str(candidate.category),
            "categories": "+".join(str(c) for c in candidate.categories),
            "inverter": candidate.inverter,
            "valid": attempt.valid,
            "rejected_by": attempt.rejected_by or "",
            "task_id": attempt.task_id or "",
            "fail_to_pass": len(validation.fail_to_pass),
            "pass_to_pass": len(validation.pass_to_pass),
            "seconds": sum(validation.seconds.values()) + candidate.provenance.seconds,
            "wall_s": (attempt.finished_at - attempt.started_at).total_seconds(),
            "tokens": candidate.provenance.tokens
            + attempt.statement_prompt_tokens
            + attempt.statement_completion_tokens,
            "disk_mb": attempt.disk_bytes_added / 1e6 if attempt.disk_bytes_added is not None else None,
            "propose_s": candidate.provenance.seconds or None,
            **diversity_columns(attempt),
        }
        for check in CHECKS:
            row[f"{check}_s"] = validation.seconds.get(check)
        rows.append(row)
    return pd.DataFrame(rows)


def gold_frame(run_dir: Path, repos: list[str]) -> pd.DataFrame:
    """The gold stage per repository; a build reused from an earlier run has no build seconds. Read as plain
    JSON: a run made by an earlier release (an older gold schema) still reports."""
    rows = []
    for repo in repos:
        path = gold_dir(run_dir, repo) / "record.json"
        try:
            gold = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        timings = gold.get("timings_s") or {}
        rows.append(
            {
                "repo": repo,
                "gold_tests": len(gold.get("gold_tests") or []),
                "gold_build_s": timings.get("build"),
                "gold_tests_s": timings.get("baseline"),
                "probe_s": timings.get("probe"),
                "gold_image_mb": (gold.get("image") or {}).get("size_bytes", 0) / 1e6,
            }
        )
    return pd.DataFrame(rows, columns=_GOLD_COLUMNS)


def generation_report(run_dir: Path) -> GenerationReport:
    """The report of ``run_dir``; raises CligymError when it holds no judged candidates."""
    attempts = read_attempts(run_dir)
    if not attempts:
        raise CligymError(
            f"{run_dir}: no judged candidates (no {ATTEMPTS_DIR}/*.jsonl)",
            "run 'cligym generate SPEC... --out RUN' first, or point at the run's directory",
        )
    frame = attempts_frame(attempts)
    gold = gold_frame(run_dir, sorted(frame["repo"].unique()))
    sized = frame.merge(gold[["repo", "gold_tests"]], on="repo", how="left")
    sized["gold_tests"] = pd.to_numeric(sized["gold_tests"]).fillna(0).astype(int)
    # Every summary is computed per repository and once more over the whole run.
    scoped = pd.concat([sized, sized.assign(repo=ALL)], ignore_index=True)
    return GenerationReport(
        attempts=frame,
        by_repo=_by_repo(scoped, gold),
        by_category=_by_category(scoped),
        rejections=_rejections(scoped),
        stages=_stages(scoped),
        diversity=diversity_frame(scoped).sort_values("repo", key=_all_last, ignore_index=True),
    )


def _by_repo(scoped: pd.DataFrame, gold: pd.DataFrame) -> pd.DataFrame:
    grouped = scoped.groupby("repo", sort=False)
    candidates = grouped.size()
    valid = grouped["valid"].sum().astype(int)
    per_valid = valid.where(valid > 0)  # NaN instead of a division by zero
    seconds_per_valid = grouped["seconds"].sum() / per_valid
    table = pd.DataFrame(
        {
            "candidates": candidates,
            "valid": valid,
            "yield": valid / candidates,
            "seconds_per_valid": seconds_per_valid,
            "tokens_per_valid": grouped["tokens"].sum() / per_valid,
            "disk_mb_per_task": grouped["disk_mb"].mean(),
            "valid_per_hour": 3600 / seconds_per_valid,
        }
    ).reset_index()
    table = table.sort_values("repo", key=_all_last, ignore_index=True)
    overall = {
        "repo": ALL,
        "gold_tests": gold["gold_tests"].sum(),
        **{column: gold[column].sum(min_count=1) for column in ("gold_build_s", "gold_tests_s", "probe_s")},
        "gold_image_mb": gold["gold_image_mb"].sum(min_count=1),
    }
    gold = pd.concat([gold, pd.DataFrame([overall], columns=_GOLD_COLUMNS)], ignore_index=True)
    return table.merge(gold, on="repo", how="left")


def _by_category(scoped: pd.DataFrame) -> pd.DataFrame:
    grouped = scoped.groupby(["repo", "category"], sort=False)
    table = pd.DataFrame({"candidates": grouped.size(), "valid": grouped["valid"].sum().astype(int)}).reset_index()
    table["yield"] = table["valid"] / table["candidates"]
    return table.sort_values(["repo", "category"], key=_all_last, ignore_index=True)


def _rejections(scoped: pd.DataFrame) -> pd.DataFrame:
    rejected = scoped[~scoped["valid"]]
    table = rejected.groupby(["repo", "rejected_by"], sort=False).size().rename("count").reset_index()
    return table.sort_values(["repo", "rejected_by"], key=_all_last, ignore_index=True)


def _stages(scoped: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for repo, group in scoped.groupby("repo", sort=False):
        for stage in STAGES:
            seconds = group[f"{stage}_s"].dropna()
            if not seconds.empty:
                rows.append(
                    {
                        "repo": repo,
                        "stage": stage,
                        "runs": len(seconds),
                        "median_s": float(seconds.median()),
                        "total_s": float(seconds.sum()),
                    }
                )
    return pd.DataFrame(rows, columns=["repo", "stage", "runs", "median_s", "total_s"])


def _all_last(column: pd.Series) -> pd.Series:
    """Sort key: repositories by name, the whole run ("all") after them."""
    return column.where(column != ALL, "\uffff") if column.name == "repo" else column
