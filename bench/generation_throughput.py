"""Generation throughput on this machine: valid tasks per hour, yield, seconds per stage, disk per task.

Runs the real commands on a fresh run directory, as a user would:

    cligym gold SPEC... --run-dir RUN --rebuild     (the gold stage, timed on its own)
    cligym generate SPEC... --tasks N --out RUN      (candidates judged until N valid tasks per repository)

then reads RUN with the report module (`cligym report RUN`) and prints one table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cligym.generation.gold.build import gold_dir
from cligym.generation.gold.record import GoldRecord
from cligym.generation.report import ALL, CHECKS, generation_report

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPECS = [REPO / "configs" / "repos" / "inventory.yaml", REPO / "configs" / "repos" / "tabulate.yaml"]
# Pure Python, C extensions and a system library: the set the generation standard is measured on.
STANDARD_SPECS = [
    REPO / "configs" / "repos" / f"{name}.yaml"
    for name in ("inventory", "tabulate", "python-dateutil", "markupsafe", "simplejson", "pyyaml")
]


def machine() -> dict[str, object]:
    memory_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "docker": docker.stdout.strip() or "?",
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def run_stage(command: list[str], log: Path) -> float:
    """Run one cligym command with its output in ``log``; returns its wall seconds."""
    started = time.monotonic()
    with log.open("w") as out:
        completed = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=os.environ | {"COLUMNS": "200"})
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed with exit code {completed.returncode}; see {log}")
    return seconds


def repo_table(run_dir: Path, generate_wall: float) -> tuple[Table, list[dict[str, object]]]:
    """Per repository: yield, categories, distinct causes, valid tasks per repo-hour, tasks failing every test,
    and what a candidate costs by outcome, against one full-suite run of the gold tests."""
    report = generation_report(run_dir)
    diversity = report.diversity.set_index("repo")
    by_repo = report.by_repo.set_index("repo")
    attempts = report.attempts
    rows = []
    for repo in [r for r in by_repo.index if r != ALL]:
        gold = GoldRecord.read(gold_dir(run_dir, repo) / "record.json")
        suite_s = statistics.median(run.duration_s for run in gold.runs)
        mine = attempts[attempts["repo"] == repo]
        fast = mine[(mine["rejected_by"] == "breaks") & mine["expected_tests_s"].notna() & mine["breaks_s"].isna()]
        judged_hours = mine["seconds"].sum() / 3600
        rows.append(
            {
                "repo": repo,
                "candidates": int(by_repo.loc[repo, "candidates"]),
                "valid": int(by_repo.loc[repo, "valid"]),
                "yield": float(by_repo.loc[repo, "yield"]),
                "categories": int(diversity.loc[repo, "categories"]),
                "causes": int(diversity.loc[repo, "causes"]),
                "failing_sets": int(diversity.loc[repo, "failing_sets"]),
                "fails_all": int(diversity.loc[repo, "fails_all"]),
                "shallow": int(diversity.loc[repo, "shallow"]),
                "valid_per_repo_hour": int(by_repo.loc[repo, "valid"]) / judged_hours if judged_hours else None,
                "suite_s": suite_s,
                "broke_nothing_s": float(diversity.loc[repo, "broke_nothing_s"]),
                "fast_reject_s": float(fast["seconds"].median()) if not fast.empty else None,
                "rejected_later_s": float(diversity.loc[repo, "rejected_later_s"]),
                "valid_s": float(diversity.loc[repo, "valid_s"]),
            }
        )
    table = Table(title="per repository (seconds are medians or means per candidate; suite = one gold run)")
    headers = {
        "repo": "repo",
        "candidates": "judged",
        "valid": "valid",
        "yield": "yield",
        "categories": "categories",
        "causes": "causes",
        "failing_sets": "failing sets",
        "fails_all": "fail all",
        "shallow": "shallow",
        "valid_per_repo_hour": "valid / repo-h",
        "suite_s": "suite s",
        "fast_reject_s": "fast reject s",
        "broke_nothing_s": "broke nothing s",
        "rejected_later_s": "rejected later s",
        "valid_s": "valid s",
    }
    for key, header in headers.items():
        table.add_column(header, justify="left" if key == "repo" else "right")
    for row in rows:
        cells = []
        for key in headers:
            value = row[key]
            fmt = "{:.0%}" if key == "yield" else "{:.1f}" if key.endswith("_s") else "{:.0f}"
            cells.append(value if key == "repo" else _fmt(value, fmt))
        table.add_row(*cells)  # type: ignore[arg-type]
    return table, rows


def results_table(run_dir: Path, gold_wall: float | None, generate_wall: float) -> tuple[Table, dict[str, object]]:
    report = generation_report(run_dir)
    totals = report.totals
    by_repo = report.by_repo.set_index("repo")
    stages = report.stages[report.stages["repo"] == ALL].set_index("stage")
    wall = generate_wall + (gold_wall or 0.0)
    numbers: dict[str, object] = {
        "machine": machine(),
        "run_dir": str(run_dir),
        "repos": [repo for repo in by_repo.index if repo != ALL],
        "candidates": totals.candidates,
        "valid": totals.valid,
        "yield": totals.yield_,
        "wall_s": {"gold": gold_wall, "generate": generate_wall},
        "valid_per_hour_wall": totals.valid / (wall / 3600) if wall else None,
        "valid_per_hour_judging": totals.valid_per_hour,
        "seconds_per_valid": totals.seconds_per_valid,
        "disk_mb_per_task": totals.disk_mb_per_task,
        "gold": {
            repo: {"build_s": by_repo.loc[repo, "gold_build_s"], "tests_s": by_repo.loc[repo, "gold_tests_s"]}
            for repo in by_repo.index
            if repo != ALL
        },
        "checks": {
            check: {"median_s": stages.loc[check, "median_s"], "total_s": stages.loc[check, "total_s"]}
            for check in CHECKS
            if check in stages.index
        },
    }
    info = numbers["machine"]
    assert isinstance(info, dict)
    table = Table(
        title=f"generation throughput: {info['cores']} cores, {info['memory_gib']} GiB, {info['cpu']}",
        caption=f"docker {info['docker']}, python {info['python']}; run {run_dir}",
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("repositories", ", ".join(numbers["repos"]))  # type: ignore[arg-type]
    table.add_row("valid tasks / candidates", f"{totals.valid} / {totals.candidates}")
    table.add_row("yield", f"{totals.yield_:.0%}")
    table.add_row("wall time (gold + generate)", f"{gold_wall or 0:.0f} s + {generate_wall:.0f} s")
    table.add_row("valid tasks per hour (wall, gold included)", _fmt(numbers["valid_per_hour_wall"], "{:.0f}"))
    table.add_row("valid tasks per hour of judging", _fmt(totals.valid_per_hour, "{:.0f}"))
    table.add_row("seconds of judging per valid task", _fmt(totals.seconds_per_valid, "{:.1f}"))
    table.add_row("disk added per task", _fmt(totals.disk_mb_per_task, "{:.3g} MB"))
    for repo, gold in numbers["gold"].items():  # type: ignore[attr-defined]
        table.add_row(f"gold build / tests: {repo}", f"{_fmt(gold['build_s'], '{:.0f}')} s / {gold['tests_s']:.0f} s")
    for check, seconds in numbers["checks"].items():  # type: ignore[attr-defined]
        table.add_row(
            f"validation check {check} (median / total)", f"{seconds['median_s']:.1f} s / {seconds['total_s']:.0f} s"
        )
    return table, numbers


def _plain(value: object) -> object:
    """JSON-ready: numpy numbers as Python ones, NaN as null."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def _fmt(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("specs", nargs="*", type=Path, default=DEFAULT_SPECS, help="repo specs (default: %(default)s)")
    parser.add_argument("--standard", action="store_true", help="the six specs the generation standard names")
    parser.add_argument("--tasks", type=int, default=3, help="valid tasks wanted per repository")
    parser.add_argument("--max-attempts", type=int, default=None, help="candidates judged per repository at most")
    parser.add_argument("--workers", type=int, default=1, help="repositories worked on at once")
    parser.add_argument("--out", type=Path, default=None, help="fresh run directory (default: a new temporary one)")
    parser.add_argument("--no-gold-stage", action="store_true", help="let generate build or reuse the gold images")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this JSON file")
    args = parser.parse_args()

    run_dir = args.out or Path(tempfile.mkdtemp(prefix="cligym-bench-"))
    if run_dir.exists() and any(run_dir.iterdir()):
        sys.exit(f"{run_dir} is not empty: the benchmark needs a fresh run directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    cligym = [sys.executable, "-m", "cligym"]
    specs = [str(spec) for spec in (STANDARD_SPECS if args.standard else args.specs)]
    console = Console()

    gold_wall = None
    if not args.no_gold_stage:
        console.print(f"gold stage for {len(specs)} specs (log: {run_dir / 'gold.log'})")
        command = [*cligym, "gold", *specs, "--run-dir", str(run_dir), "--rebuild", "--workers", str(args.workers)]
        gold_wall = run_stage(command, run_dir / "gold.log")
    console.print(f"generating {args.tasks} tasks per repository (log: {run_dir / 'generate.log'})")
    command = [*cligym, "generate", *specs, "--tasks", str(args.tasks), "--out", str(run_dir)]
    command += ["--workers", str(args.workers)]
    if args.max_attempts:
        command += ["--max-attempts", str(args.max_attempts)]
    generate_wall = run_stage(command, run_dir / "generate.log")

    table, numbers = results_table(run_dir, gold_wall, generate_wall)
    console.print(table)
    per_repo, numbers["per_repo"] = repo_table(run_dir, generate_wall)
    console.print(per_repo)
    if args.json:
        args.json.write_text(json.dumps(_plain(numbers), indent=2) + "\n")


if __name__ == "__main__":
    main()
